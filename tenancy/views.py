"""The public site's landing page and the platform operators' area.

Operator pages run on the platform host (public schema) for staff users only: anonymous visitors are
sent to sign in, signed-in non-staff users get 403. Every write goes through `tenancy.services`.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Callable
from functools import wraps

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from core.actors import Actor
from core.models import AuditEntry
from core.views_audit import render_audit_log

from .errors import VendorError
from .forms import VendorCreateForm, VendorSuspendForm
from .models import PUBLIC_SCHEMA, Vendor
from .services import vendor_create_with_admin, vendor_reactivate, vendor_suspend

HISTORY_LIMIT = 20


def landing(request: HttpRequest) -> HttpResponse:
    return render(request, "public/landing.html")


def operator_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    @wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path(), settings.LOGIN_URL)
        # Staff users of a vendor schema are vendor staff, never platform operators.
        if not (request.user.is_staff and request.user.is_active and request.tenant.is_public):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return wrapped


def _vendors():
    return Vendor.objects.exclude(schema_name=PUBLIC_SCHEMA)


def _site_url(request: HttpRequest, domain: str, path: str = "/") -> str:
    """The vendor's site on the same scheme and port as this request (handy in development)."""
    port = request.get_port()
    default = "443" if request.is_secure() else "80"
    suffix = "" if port in ("", default) else f":{port}"
    return f"{request.scheme}://{domain}{suffix}{path}"


@operator_required
def vendor_list(request: HttpRequest) -> HttpResponse:
    vendors = list(_vendors().prefetch_related("domains"))
    suspended = sum(1 for v in vendors if not v.is_active)
    return render(
        request,
        "operator/vendor_list.html",
        {"vendors": vendors, "suspended_count": suspended},
    )


@operator_required
def vendor_create_view(request: HttpRequest) -> HttpResponse:
    form = VendorCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            port = request.get_port()
            vendor = vendor_create_with_admin(
                name=data["name"],
                slug=data["slug"],
                domain=data["domain"],
                timezone=data["timezone"],
                currency=data["currency"],
                admin_email=data["admin_email"],
                # The accept link uses the scheme and port this operator is using.
                invite_base=(request.scheme, "" if port in ("80", "443") else f":{port}"),
                actor=Actor.from_request(request),
            )
        except VendorError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(
                request,
                f"{vendor.name} was created with its own schema; "
                f"{data['admin_email'].lower()} was invited as its first admin.",
            )
            return redirect("operator:vendor_detail", pk=vendor.pk)
    return render(request, "operator/vendor_form.html", {"form": form})


def _detail(
    request: HttpRequest,
    vendor: Vendor,
    *,
    suspend_form: VendorSuspendForm | None = None,
) -> HttpResponse:
    domains = list(vendor.domains.all())
    history = list(
        AuditEntry.objects.filter(object_type="tenancy.vendor", object_id=str(vendor.pk))[
            :HISTORY_LIMIT
        ]
    )
    primary = next((d for d in domains if d.is_primary), domains[0] if domains else None)
    return render(
        request,
        "operator/vendor_detail.html",
        {
            # Not "vendor": that name means the tenant being served in every template.
            "subject": vendor,
            "domains": domains,
            "console_url": _site_url(request, primary.domain, "/console/") if primary else None,
            "history": history,
            "suspend_form": suspend_form or VendorSuspendForm(),
        },
    )


@operator_required
def vendor_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _detail(request, get_object_or_404(_vendors(), pk=pk))


@require_POST
@operator_required
def vendor_suspend_view(request: HttpRequest, pk: int) -> HttpResponse:
    vendor = get_object_or_404(_vendors(), pk=pk)
    form = VendorSuspendForm(request.POST)
    if form.is_valid():
        try:
            vendor = vendor_suspend(
                vendor=vendor, reason=form.cleaned_data["reason"], actor=Actor.from_request(request)
            )
        except VendorError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(
                request,
                f"{vendor.name} is suspended: its console, portal and API answer 503 now.",
            )
            return redirect("operator:vendor_detail", pk=vendor.pk)
    return _detail(request, vendor, suspend_form=form)


@require_POST
@operator_required
def vendor_reactivate_view(request: HttpRequest, pk: int) -> HttpResponse:
    vendor = get_object_or_404(_vendors(), pk=pk)
    try:
        vendor = vendor_reactivate(vendor=vendor, actor=Actor.from_request(request))
    except VendorError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"{vendor.name} is active again.")
    return redirect("operator:vendor_detail", pk=vendor.pk)


@operator_required
def audit_log(request: HttpRequest) -> HttpResponse:
    return render_audit_log(
        request,
        base_template="operator/base.html",
        tz=zoneinfo.ZoneInfo("UTC"),
        heading="Platform audit log",
    )
