"""Usage in the partner portal: the usage page (this month per meter, recent CSV imports, the
upload form), a CSV import's preview and progress, and one client's usage by day.

Every view goes through `portal_view`; imports and clients are looked up with
`partner=request.partner`, so another partner's are 404. Uploading, starting and discarding an
import need MANAGE_CLIENTS (owners and technicians); the rows of a partner's file can only name
that partner's clients (ingest is called with its partner as the caller).
"""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from billing.errors import BillingError
from billing.models_invoicing import UsageImport
from billing.services import usage_imports as imports_service
from billing.services.usage_imports import max_upload_bytes, size_label
from billing.views.usage_shared import (
    RECENT_IMPORTS,
    UsageUploadForm,
    client_usage_context,
    import_context,
    import_rows,
    month_summary,
    progress_response,
    template_csv,
)
from core.actors import Actor
from partners.access import portal_view
from partners.models import Client
from partners.permissions import Capability, role_can

AREA = "portal"


def _can_manage(request: HttpRequest) -> bool:
    return (
        role_can(request.membership.role, Capability.MANAGE_CLIENTS)
        and not request.partner.is_read_only
    )


def _import_or_404(request: HttpRequest, pk: int) -> UsageImport:
    return get_object_or_404(UsageImport, pk=pk, partner=request.partner)


def _usage_page(request: HttpRequest, form: UsageUploadForm | None = None) -> HttpResponse:
    can_manage = _can_manage(request)
    imports = list(UsageImport.objects.filter(partner=request.partner)[:RECENT_IMPORTS])
    context = {
        **month_summary(partner_id=request.partner.pk),
        "imports": import_rows(imports, area=AREA),
        "can_manage": can_manage,
        "max_size": size_label(max_upload_bytes()),
        "form": form or (UsageUploadForm(with_partner=False) if can_manage else None),
        "columns": ("event_id", "client", "meter", "quantity", "timestamp", "properties"),
    }
    return render(request, "billing/portal/usage/usage.html", context)


@portal_view(Capability.VIEW)
def usage(request: HttpRequest) -> HttpResponse:
    return _usage_page(request)


@portal_view(Capability.MANAGE_CLIENTS)
def usage_upload(request: HttpRequest) -> HttpResponse:
    """Upload a CSV: it is kept and checked row by row, then its preview is shown."""
    form = UsageUploadForm(request.POST or None, request.FILES or None, with_partner=False)
    if request.method == "POST" and form.is_valid():
        try:
            usage_import = imports_service.usage_import_stage(
                upload=form.cleaned_data["file"],
                partner=request.partner,
                actor=Actor.from_request(request),
            )
        except BillingError as exc:
            form.add_error("file" if exc.field == "file" else None, str(exc))
        else:
            return redirect("portal:usage_import", pk=usage_import.pk)
    return _usage_page(request, form)


@portal_view(Capability.VIEW)
def usage_template(request: HttpRequest) -> HttpResponse:
    return template_csv(with_partner=False)


@portal_view(Capability.VIEW)
def usage_import(request: HttpRequest, pk: int) -> HttpResponse:
    usage_import = _import_or_404(request, pk)
    context = import_context(usage_import, area=AREA, can_manage=_can_manage(request))
    return render(request, "billing/portal/usage/import.html", context)


@portal_view(Capability.VIEW)
def usage_import_progress(request: HttpRequest, pk: int) -> HttpResponse:
    """The progress block alone, polled every second by htmx while the import runs."""
    usage_import = _import_or_404(request, pk)
    return progress_response(request, usage_import, area=AREA)


@portal_view(Capability.MANAGE_CLIENTS)
@require_POST
def usage_import_start(request: HttpRequest, pk: int) -> HttpResponse:
    usage_import = _import_or_404(request, pk)
    try:
        imports_service.usage_import_start(
            usage_import=usage_import, actor=Actor.from_request(request)
        )
    except BillingError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Importing {usage_import.filename}…")
    return redirect("portal:usage_import", pk=usage_import.pk)


@portal_view(Capability.MANAGE_CLIENTS)
@require_POST
def usage_import_discard(request: HttpRequest, pk: int) -> HttpResponse:
    usage_import = _import_or_404(request, pk)
    try:
        imports_service.usage_import_discard(
            usage_import=usage_import, actor=Actor.from_request(request)
        )
    except BillingError as exc:
        messages.error(request, str(exc))
        return redirect("portal:usage_import", pk=usage_import.pk)
    messages.success(request, f"{usage_import.filename} was discarded; nothing was imported.")
    return redirect("portal:usage")


@portal_view(Capability.VIEW)
def client_usage(request: HttpRequest, pk: int) -> HttpResponse:
    client = get_object_or_404(Client, pk=pk, partner=request.partner)
    client.partner = request.partner  # the estimate rates the partner: no second query for it
    context = client_usage_context(request, client, area=AREA)
    return render(request, "billing/portal/usage/client.html", context)
