"""Console pages of price plans: the list, a plan with every version, create, revise, and the
plan's subscribers.

A plan's prices are never edited in place: "Revise" writes the next version, effective from a
month that has not begun (`price_plan_revise` enforces it; its refusals are shown inline).
"""

from __future__ import annotations

import datetime

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render

from billing.errors import BillingError
from billing.forms_catalog import (
    ChargesEditor,
    PlanForm,
    ReviseForm,
    add_service_error,
    charges_of_version,
)
from billing.models import Meter, PricePlan, Subscription
from billing.selectors import price_plans_with_versions, version_in_effect
from billing.services.catalog import (
    clean_currency,
    next_month,
    price_plan_create,
    price_plan_revise,
)
from billing.views.console_catalog import can_edit_catalog, catalog_editor, console_reader
from billing.views.console_catalog_display import charge_summary, version_views
from billing.views.subscriptions import subscription_rows
from core.actors import Actor
from partners.services.partners import today_for_vendor

SUBSCRIBERS_PAGE_SIZE = 50


def _active_on(day: datetime.date) -> Q:
    """Subscriptions not ended before `day` (started or starting later)."""
    return Q(subscriptions__ended_on__isnull=True) | Q(subscriptions__ended_on__gte=day)


def _plans_with_subscribers(day: datetime.date):
    return price_plans_with_versions().annotate(
        subscriber_count=Count("subscriptions", filter=_active_on(day), distinct=True)
    )


def _meters() -> list[Meter]:
    return list(Meter.objects.order_by("name", "code"))


def _unbound_copy(data: QueryDict) -> dict:
    """What was posted, as starting values (so adding a tier row does not flag empty fields)."""
    return {key: data.get(key) for key in data}


# ---- list and detail -------------------------------------------------------------------------


@console_reader
def plans(request: HttpRequest) -> HttpResponse:
    today = today_for_vendor()
    month = today.replace(day=1)
    rows = []
    for plan in _plans_with_subscribers(today).order_by("code"):
        versions = list(plan.versions.all())
        current = version_in_effect(plan, month)
        upcoming = [v for v in versions if v.effective_from > month]
        rows.append(
            {
                "plan": plan,
                "current": current,
                "next": upcoming[0] if upcoming else None,
                "charges": charge_summary(current or (upcoming[0] if upcoming else None)),
            }
        )
    context = {"rows": rows, "can_edit": can_edit_catalog(request.user), "month": month}
    return render(request, "billing/console/catalog/plans.html", context)


@console_reader
def plan_detail(request: HttpRequest, pk: int) -> HttpResponse:
    today = today_for_vendor()
    plan = get_object_or_404(_plans_with_subscribers(today), pk=pk)
    context = {
        "plan": plan,
        "versions": version_views(list(plan.versions.all()), today, plan.currency),
        "month": today.replace(day=1),
        "can_edit": can_edit_catalog(request.user),
    }
    return render(request, "billing/console/catalog/plan_detail.html", context)


@console_reader
def plan_subscribers(request: HttpRequest, pk: int) -> HttpResponse:
    plan = get_object_or_404(PricePlan, pk=pk)
    today = today_for_vendor()
    subscriptions = (
        Subscription.objects.filter(price_plan=plan)
        .select_related("client", "client__partner")
        .prefetch_related("quantity_changes")
        .order_by("client__name", "client_id", "started_on", "id")
    )
    page = Paginator(subscriptions, SUBSCRIBERS_PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "plan": plan,
        "page_obj": page,
        "rows": subscription_rows(list(page.object_list), today),
    }
    return render(request, "billing/console/catalog/plan_subscribers.html", context)


# ---- create and revise -----------------------------------------------------------------------


@catalog_editor
def plan_create(request: HttpRequest) -> HttpResponse:
    meters = _meters()
    initial = {"currency": getattr(request.tenant, "default_currency", "") or ""}
    if request.method != "POST":
        form = PlanForm(initial=initial)
        editor = ChargesEditor(meters=meters)
    else:
        editor = ChargesEditor(request.POST, meters=meters)
        if not editor.is_save:  # a charge or a tier row was added or removed
            form = PlanForm(initial=_unbound_copy(request.POST))
        else:
            form = PlanForm(request.POST)
            response = _save_new_plan(request, form, editor)
            if response is not None:
                return response
    context = {"form": form, "editor": editor, "plan": None, "meters": meters}
    return render(request, "billing/console/catalog/plan_form.html", context)


def _save_new_plan(request: HttpRequest, form: PlanForm, editor: ChargesEditor):
    form_ok = form.is_valid()
    currency = None
    if form_ok or "currency" not in form.errors:
        try:
            currency = clean_currency(form.cleaned_data.get("currency", ""))
        except BillingError as exc:
            add_service_error(form, exc)
    editor.validate(currency)
    if not form.is_valid() or editor.has_errors:
        return None
    try:
        plan = price_plan_create(
            actor=Actor.from_request(request), charges=editor.charges(), **form.cleaned_data
        )
    except BillingError as exc:
        if not editor.attach(exc):
            add_service_error(form, exc)
        return None
    messages.success(request, f"The price plan {plan.code} is created.")
    return redirect("console:catalog_plan", pk=plan.pk)


@catalog_editor
def plan_revise(request: HttpRequest, pk: int) -> HttpResponse:
    plan = get_object_or_404(price_plans_with_versions(), pk=pk)
    versions = list(plan.versions.all())
    latest = versions[-1] if versions else None
    meters = _meters()
    earliest = next_month(today_for_vendor())
    if latest is not None and latest.effective_from >= earliest:
        earliest = next_month(latest.effective_from)
    if request.method != "POST":
        form = ReviseForm(initial={"effective_from": earliest})
        editor = ChargesEditor(meters=meters, initial=charges_of_version(latest))
    else:
        editor = ChargesEditor(request.POST, meters=meters)
        if not editor.is_save:
            form = ReviseForm(initial=_unbound_copy(request.POST))
        else:
            form = ReviseForm(request.POST)
            form_ok = form.is_valid()
            editor.validate(plan.currency)
            if form_ok and not editor.has_errors:
                try:
                    version = price_plan_revise(
                        plan=plan,
                        actor=Actor.from_request(request),
                        charges=editor.charges(),
                        effective_from=form.cleaned_data["effective_from"],
                    )
                except BillingError as exc:
                    if not editor.attach(exc):
                        add_service_error(form, exc)
                else:
                    messages.success(
                        request,
                        f"Version {version.version} of {plan.code} takes effect from "
                        f"{version.effective_from:%B %Y}.",
                    )
                    return redirect("console:catalog_plan", pk=plan.pk)
    context = {
        "form": form,
        "editor": editor,
        "plan": plan,
        "latest": latest,
        "meters": meters,
    }
    return render(request, "billing/console/catalog/plan_form.html", context)
