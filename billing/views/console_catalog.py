"""Console pages of the catalog: the landing page, products and meters (price plans are in
console_catalog_plans.py).

Every console user reads the catalog; admins and finance change it (other roles get 403 and
nothing changes); partner users get 403. Views validate a form and call a catalog service; a
service's refusal is shown next to its field.
"""

from __future__ import annotations

from django.contrib import messages
from django.db.models import Count, Exists, OuterRef
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render

from accounts.enums import VendorRole
from accounts.permissions import console_user_required, vendor_role_required
from billing.errors import BillingError
from billing.forms_catalog import MeterForm, ProductForm, add_service_error
from billing.models import Charge, Meter, PricePlan, Product
from billing.services.catalog import meter_create, meter_update, product_create, product_update
from core.actors import Actor
from partners.services.partners import today_for_vendor

# Who changes the price list (and subscriptions from the console): finance, and admins, who
# may do everything in the console.
EDITOR_ROLES = (VendorRole.FINANCE,)


def can_edit_catalog(user) -> bool:
    return user.is_authenticated and user.has_vendor_role(*EDITOR_ROLES)


console_reader = console_user_required


catalog_editor = vendor_role_required(
    *EDITOR_ROLES, message="Only finance and admins can change the catalog."
)


def meters_in_use():
    """Meters with `in_use`: a plan version that has started bills them (their aggregation is
    then fixed, as `meter_update` enforces)."""
    started = Charge.objects.filter(
        meter=OuterRef("pk"), version__effective_from__lte=today_for_vendor()
    )
    return Meter.objects.select_related("product").annotate(in_use=Exists(started))


def _counted(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


# ---- landing ---------------------------------------------------------------------------------


@console_reader
def catalog(request: HttpRequest) -> HttpResponse:
    plans, meters, products = (
        PricePlan.objects.count(),
        Meter.objects.count(),
        Product.objects.count(),
    )
    context = {
        "plans_text": f"{_counted(plans, 'price plan')}: versioned charges on meters or "
        "seats; new prices take effect from a month.",
        "meters_text": f"{_counted(meters, 'meter')}: the billable metrics usage events "
        "report, and how a month of them is counted.",
        "products_text": f"{_counted(products, 'product')}: what meters and price plans are for.",
        "can_edit": can_edit_catalog(request.user),
    }
    return render(request, "billing/console/catalog/catalog.html", context)


# ---- products --------------------------------------------------------------------------------


@console_reader
def products(request: HttpRequest) -> HttpResponse:
    rows = Product.objects.annotate(
        meter_count=Count("meters", distinct=True),
        plan_count=Count("price_plans", distinct=True),
    ).order_by("name", "code")
    context = {"products": rows, "can_edit": can_edit_catalog(request.user)}
    return render(request, "billing/console/catalog/products.html", context)


@catalog_editor
def product_create_view(request: HttpRequest) -> HttpResponse:
    form = ProductForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            product = product_create(actor=Actor.from_request(request), **form.cleaned_data)
        except BillingError as exc:
            add_service_error(form, exc)
        else:
            messages.success(request, f"The product {product.name} is created.")
            return redirect("console:catalog_products")
    context = {"form": form, "product": None}
    return render(request, "billing/console/catalog/product_form.html", context)


@catalog_editor
def product_edit(request: HttpRequest, pk: int) -> HttpResponse:
    product = get_object_or_404(Product, pk=pk)
    initial = {"code": product.code, "name": product.name, "description": product.description}
    form = ProductForm(request.POST or None, initial=initial, product=product)
    if request.method == "POST" and form.is_valid():
        try:
            product_update(
                product=product,
                actor=Actor.from_request(request),
                name=form.cleaned_data["name"],
                description=form.cleaned_data["description"],
            )
        except BillingError as exc:
            add_service_error(form, exc)
        else:
            messages.success(request, f"The product {form.cleaned_data['name']} is saved.")
            return redirect("console:catalog_products")
    context = {"form": form, "product": product}
    return render(request, "billing/console/catalog/product_form.html", context)


# ---- meters ----------------------------------------------------------------------------------


@console_reader
def meters(request: HttpRequest) -> HttpResponse:
    context = {
        "meters": meters_in_use().order_by("code"),
        "can_edit": can_edit_catalog(request.user),
    }
    return render(request, "billing/console/catalog/meters.html", context)


@catalog_editor
def meter_create_view(request: HttpRequest) -> HttpResponse:
    form = MeterForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            meter = meter_create(actor=Actor.from_request(request), **form.cleaned_data)
        except BillingError as exc:
            add_service_error(form, exc)
        else:
            messages.success(request, f"The meter {meter.code} is created.")
            return redirect("console:catalog_meters")
    context = {"form": form, "meter": None, "in_use": False}
    return render(request, "billing/console/catalog/meter_form.html", context)


@catalog_editor
def meter_edit(request: HttpRequest, pk: int) -> HttpResponse:
    meter = get_object_or_404(meters_in_use(), pk=pk)
    initial = {
        "code": meter.code,
        "name": meter.name,
        "unit": meter.unit,
        "aggregation": meter.aggregation,
        "unique_property": meter.unique_property,
        "product": meter.product_id,
    }
    form = MeterForm(request.POST or None, initial=initial, meter=meter, in_use=meter.in_use)
    if request.method == "POST" and form.is_valid():
        changes = dict(form.cleaned_data)
        changes.pop("code")
        if meter.in_use:  # shown, not editable: the service would refuse a change anyway
            changes.pop("aggregation")
            changes.pop("unique_property")
        try:
            meter_update(meter=meter, actor=Actor.from_request(request), **changes)
        except BillingError as exc:
            add_service_error(form, exc)
        else:
            messages.success(request, f"The meter {meter.code} is saved.")
            return redirect("console:catalog_meters")
    context = {"form": form, "meter": meter, "in_use": meter.in_use}
    return render(request, "billing/console/catalog/meter_form.html", context)
