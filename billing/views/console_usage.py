"""Usage in the vendor console: this month per meter across every partner, every CSV import
(console uploads and partners' own), the upload form for console files (they name each row's
partner), an import's preview and progress, and any client's usage by day.

Any console user reads; uploading, starting and discarding console imports is for finance,
channel managers and admins. Partners' own imports are shown here, never started or discarded
from the console (that is the partner's decision).
"""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from accounts.enums import VendorRole
from accounts.permissions import console_user_required, vendor_role_required
from billing.errors import BillingError
from billing.models_invoicing import UsageImport
from billing.services import usage_imports as imports_service
from billing.services.usage_imports import max_upload_bytes, size_label
from billing.usage_csv import CONSOLE_COLUMNS
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
from partners.models import Client

AREA = "console"
IMPORT_ROLES = (VendorRole.FINANCE, VendorRole.CHANNEL_MANAGER)


def can_import_usage(user) -> bool:
    return user.is_console_user and user.has_vendor_role(*IMPORT_ROLES)


console_reader = console_user_required


usage_importer = vendor_role_required(
    *IMPORT_ROLES, message="Only finance, channel managers and admins can import usage."
)


def _usage_page(request: HttpRequest, form: UsageUploadForm | None = None) -> HttpResponse:
    can_manage = can_import_usage(request.user)
    imports = list(UsageImport.objects.select_related("partner")[:RECENT_IMPORTS])
    context = {
        **month_summary(),
        "imports": import_rows(imports, area=AREA),
        "can_manage": can_manage,
        "max_size": size_label(max_upload_bytes()),
        "form": form or (UsageUploadForm(with_partner=True) if can_manage else None),
        "columns": CONSOLE_COLUMNS,
    }
    return render(request, "billing/console/usage/usage.html", context)


@console_reader
def usage(request: HttpRequest) -> HttpResponse:
    return _usage_page(request)


@usage_importer
def usage_upload(request: HttpRequest) -> HttpResponse:
    form = UsageUploadForm(request.POST or None, request.FILES or None, with_partner=True)
    if request.method == "POST" and form.is_valid():
        try:
            usage_import = imports_service.usage_import_stage(
                upload=form.cleaned_data["file"], partner=None, actor=Actor.from_request(request)
            )
        except BillingError as exc:
            form.add_error("file" if exc.field == "file" else None, str(exc))
        else:
            return redirect("console:usage_import", pk=usage_import.pk)
    return _usage_page(request, form)


@console_reader
def usage_template(request: HttpRequest) -> HttpResponse:
    return template_csv(with_partner=True)


def _import_or_404(pk: int) -> UsageImport:
    return get_object_or_404(UsageImport.objects.select_related("partner"), pk=pk)


def _console_import_or_404(pk: int) -> UsageImport:
    """Imports the console may act on: its own uploads."""
    return get_object_or_404(UsageImport, pk=pk, partner__isnull=True)


@console_reader
def usage_import(request: HttpRequest, pk: int) -> HttpResponse:
    usage_import = _import_or_404(pk)
    can_manage = usage_import.partner_id is None and can_import_usage(request.user)
    context = import_context(usage_import, area=AREA, can_manage=can_manage)
    return render(request, "billing/console/usage/import.html", context)


@console_reader
def usage_import_progress(request: HttpRequest, pk: int) -> HttpResponse:
    usage_import = _import_or_404(pk)
    return progress_response(request, usage_import, area=AREA)


@usage_importer
@require_POST
def usage_import_start(request: HttpRequest, pk: int) -> HttpResponse:
    usage_import = _console_import_or_404(pk)
    try:
        imports_service.usage_import_start(
            usage_import=usage_import, actor=Actor.from_request(request)
        )
    except BillingError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Importing {usage_import.filename}…")
    return redirect("console:usage_import", pk=usage_import.pk)


@usage_importer
@require_POST
def usage_import_discard(request: HttpRequest, pk: int) -> HttpResponse:
    usage_import = _console_import_or_404(pk)
    try:
        imports_service.usage_import_discard(
            usage_import=usage_import, actor=Actor.from_request(request)
        )
    except BillingError as exc:
        messages.error(request, str(exc))
        return redirect("console:usage_import", pk=usage_import.pk)
    messages.success(request, f"{usage_import.filename} was discarded; nothing was imported.")
    return redirect("console:usage")


@console_reader
def client_usage(request: HttpRequest, pk: int) -> HttpResponse:
    client = get_object_or_404(Client.objects.select_related("partner"), pk=pk)
    context = client_usage_context(request, client, area=AREA)
    return render(request, "billing/console/usage/client.html", context)
