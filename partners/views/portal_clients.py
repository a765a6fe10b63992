"""The MSP's clients in the portal: the list (search, filters, sorting, counts, CSV export), create,
edit, status changes, the per-client page, and the CSV import with its preview.

Every view goes through `portal_view`, and every query starts from `request.partner`: another
partner's client is a 404, never a 403, and never appears in a list, an export or a filter."""

from __future__ import annotations

import csv
import datetime
import zoneinfo
from collections.abc import Iterator
from dataclasses import dataclass

from django.contrib import messages
from django.core.paginator import Paginator
from django.db import connection
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.cache import patch_vary_headers
from django.utils.text import slugify
from django.views.decorators.http import require_POST

from core.actors import Actor
from core.models import AuditEntry
from partners.access import portal_view
from partners.client_sections import render_client_sections
from partners.client_selectors import (
    client_history,
    client_overview,
    client_service_tiers,
    partner_clients,
)
from partners.enums import ClientStatus
from partners.errors import PartnerError
from partners.filters import PortalClientFilter, QueryLinks, sort_columns, sort_label
from partners.forms_clients import ClientChurnForm, ClientCreateForm, ClientForm, ClientImportForm
from partners.models import Client
from partners.permissions import Capability, role_can
from partners.services.client_import import (
    COLUMNS,
    EXPORT_COLUMNS,
    TEMPLATE_ROWS,
    CheckedRow,
    RawRow,
    StagedImport,
    check_client_rows,
    clients_import,
    export_cell,
    import_discard,
    import_load,
    import_stage,
    read_client_csv,
    rows_have,
)
from partners.services.clients import client_change_status, client_create, client_update
from partners.services.onboarding import onboarding_refresh
from partners.services.partners import today_for_vendor
from partners.views.client_rows import ROW_FIELDS, paginate, portal_client_rows

PAGE_SIZE = 50
PREVIEW_PAGE_SIZE = 100
HISTORY_LIMIT = 100
IMPORT_SESSION_KEY = "partners.client_import"
# Status changes offered as buttons; churning has its own confirmation page (it needs a date).
BUTTON_STATUSES = {ClientStatus.ACTIVE, ClientStatus.SUSPENDED}


def _tz(request: HttpRequest) -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(getattr(request.tenant, "timezone", "") or "UTC")


def _can_manage(request: HttpRequest) -> bool:
    return (
        role_can(request.membership.role, Capability.MANAGE_CLIENTS)
        and not request.partner.is_read_only
    )


def _client_or_404(request: HttpRequest, pk: int) -> Client:
    return get_object_or_404(Client, pk=pk, partner=request.partner)


def _form_error(form, exc: PartnerError) -> None:
    form.add_error(exc.field if exc.field in form.fields else None, str(exc))


def _filterset(request: HttpRequest) -> PortalClientFilter:
    return PortalClientFilter(
        request.GET or None,
        queryset=partner_clients(request.partner),
        tz=_tz(request),
        service_tiers=client_service_tiers(request.partner),
    )


# ---- list and export ----------------------------------------------------------------------------


@dataclass(frozen=True)
class StatusLink:
    """A status button above the list: the partner's count, and the list with that status."""

    status: str
    label: str
    count: int
    href: str
    current: bool


@portal_view(Capability.VIEW)
def client_list(request: HttpRequest) -> HttpResponse:
    tz = _tz(request)
    filterset = PortalClientFilter(
        request.GET or None, queryset=partner_clients(request.partner), tz=tz
    )
    # One query for the counts per status, the service tiers in use and how many clients match
    # the filters, per status and tier; then one for the page's rows. The tier filter can only
    # be checked against the tiers that query finds, so it picks its groups afterwards.
    overview = client_overview(request.partner, filterset.conditions(without=["service_tier"]))
    filterset.set_service_tiers(overview.service_tiers)
    cleaned = filterset.form.cleaned_data if filterset.is_bound else {}
    matched = overview.matching(service_tier=cleaned.get("service_tier"))
    clients = filterset.qs.values_list(*ROW_FIELDS)
    page = paginate(clients, request.GET.get("page"), PAGE_SIZE, total=matched)
    filter_names = set(filterset.filters) - {"sort"}
    current_status = cleaned.get("status", "")
    links = QueryLinks(request.GET)
    context = {
        "filter": filterset,
        "form": filterset.form,
        "page_obj": page,
        "rows": portal_client_rows(page.object_list, tz),
        "total": overview.total,
        "all_href": links.href(status=None, page=None),
        "status_links": [
            StatusLink(
                sc.status,
                sc.label,
                sc.count,
                links.href(status=sc.status, page=None),
                sc.status == current_status,
            )
            for sc in overview.status_counts
        ],
        "current_status": current_status,
        "previous_href": (
            links.href(page=page.previous_page_number()) if page.has_previous() else ""
        ),
        "next_href": (links.href(page=page.next_page_number()) if page.has_next() else ""),
        "sort_columns": sort_columns(filterset.current_sort, request.GET),
        "sort_label": sort_label(filterset.current_sort),
        "is_filtered": any(v for k, v in request.GET.items() if k in filter_names),
        "can_manage": _can_manage(request),
        # The export link carries the filters and the sort, not the page.
        "export_query": links.href(page=None).removeprefix("?"),
        # What the user entered, shown back in the filter form as typed.
        "filter_values": {name: request.GET.get(name, "") for name in filter_names},
        "status_choices": ClientStatus.choices,
        "service_tiers": overview.service_tiers,
    }
    htmx = getattr(request, "htmx", None)
    # htmx asks for the results only; a history restore asks for the whole page.
    partial = bool(htmx) and not htmx.history_restore_request
    template = (
        "partners/portal/clients/_results.html" if partial else "partners/portal/clients/list.html"
    )
    response = render(request, template, context)
    patch_vary_headers(response, ["HX-Request"])
    return response


class _Echo:
    """A file-like object whose write returns the line, for streaming csv.writer output."""

    def write(self, value: str) -> str:
        return value


def _export_lines(clients, tz: zoneinfo.ZoneInfo) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield "\ufeff"  # so spreadsheet programs read the file as UTF-8
    yield writer.writerow(EXPORT_COLUMNS)
    for client in clients.iterator(chunk_size=2000):
        created = client.created_at.astimezone(tz).isoformat(timespec="seconds")
        yield writer.writerow(
            [
                client.pk,
                *(export_cell(getattr(client, column)) for column in COLUMNS),
                created,
            ]
        )


@portal_view(Capability.VIEW)
def client_export(request: HttpRequest) -> StreamingHttpResponse:
    """The partner's clients as CSV, with the list's current filters and sort order."""
    filterset = _filterset(request)
    clients = filterset.qs.only("id", *COLUMNS, "created_at")
    today = today_for_vendor().isoformat()
    name = f"clients-{slugify(request.partner.name) or 'partner'}-{today}.csv"
    response = StreamingHttpResponse(
        _export_lines(clients, _tz(request)), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["Cache-Control"] = "no-store"
    return response


@portal_view(Capability.VIEW)
def client_import_template(request: HttpRequest) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="clients-template.csv"'
    writer = csv.writer(response)
    writer.writerow(COLUMNS)
    writer.writerows(TEMPLATE_ROWS)
    return response


# ---- one client -------------------------------------------------------------------------------


@dataclass(frozen=True)
class HistoryItem:
    at: datetime.datetime
    actor: str
    title: str
    details: list[str]


def _history_item(entry: AuditEntry) -> HistoryItem:
    before = entry.before if isinstance(entry.before, dict) else {}
    after = entry.after if isinstance(entry.after, dict) else {}
    labels = dict(ClientStatus.choices)
    details: list[str] = []
    if entry.action == "client.created":
        title = f"Created as {labels.get(after.get('status'), after.get('status', '—'))}"
    elif entry.action == "client.updated":
        fields = [name.replace("_", " ") for name in sorted(after)]
        title = "Edited " + ", ".join(fields)
        details = [
            f"{name.replace('_', ' ')}: {before.get(name) or '—'} → {after.get(name) or '—'}"
            for name in sorted(after)
        ]
    elif "status" in after:
        old = labels.get(before.get("status"), before.get("status") or "—")
        new = labels.get(after["status"], after["status"])
        title = f"Status {old} → {new}"
        if after.get("ended_on"):
            details.append(f"ended on {after['ended_on']}")
    else:
        title = entry.action
    return HistoryItem(at=entry.at, actor=entry.actor_label, title=title, details=details)


@portal_view(Capability.VIEW)
def client_detail(request: HttpRequest, pk: int) -> HttpResponse:
    client = _client_or_404(request, pk)
    entries = client_history(client, limit=HISTORY_LIMIT)
    history = [_history_item(entry) for entry in entries]
    # Imports write one audit row for the whole file, so an imported client has no "created"
    # entry of its own: its first line comes from the client row itself.
    imported = len(entries) < HISTORY_LIMIT and not any(
        entry.action == "client.created" for entry in entries
    )
    actions = []
    if client.status != ClientStatus.CHURNED:
        if client.status == ClientStatus.SUSPENDED:
            actions.append((ClientStatus.ACTIVE, "Reactivate"))
        elif client.status in (ClientStatus.TRIAL, ClientStatus.NFR):
            actions.append((ClientStatus.ACTIVE, "Make active (billed)"))
        if client.status != ClientStatus.SUSPENDED:
            actions.append((ClientStatus.SUSPENDED, "Suspend"))
    context = {
        "client": client,
        "history": history,
        "imported": imported,
        "can_manage": _can_manage(request),
        "status_actions": actions,
        "display_tz": _tz(request).key,
        "client_sections": render_client_sections(request, client, "portal"),
    }
    return render(request, "partners/portal/clients/detail.html", context)


@portal_view(Capability.MANAGE_CLIENTS)
def client_create_view(request: HttpRequest) -> HttpResponse:
    tiers = client_service_tiers(request.partner)
    form = ClientCreateForm(
        request.POST or None, service_tiers=tiers, initial={"started_on": today_for_vendor()}
    )
    if request.method == "POST" and form.is_valid():
        actor = Actor.from_request(request)
        try:
            client = client_create(partner=request.partner, actor=actor, **form.cleaned_data)
        except PartnerError as exc:
            _form_error(form, exc)
        else:
            # The first client completes the onboarding step "provision the first client".
            onboarding_refresh(partner=request.partner, actor=actor)
            messages.success(request, f"{client.name} is added.")
            return redirect("portal:client_detail", pk=client.pk)
    return render(request, "partners/portal/clients/form.html", {"form": form, "client": None})


@portal_view(Capability.MANAGE_CLIENTS)
def client_edit(request: HttpRequest, pk: int) -> HttpResponse:
    client = _client_or_404(request, pk)
    initial = {name: getattr(client, name) for name in ClientForm.base_fields}
    form = ClientForm(
        request.POST or None,
        initial=initial,
        service_tiers=client_service_tiers(request.partner),
    )
    if request.method == "POST" and form.is_valid():
        try:
            client_update(client=client, actor=Actor.from_request(request), **form.cleaned_data)
        except PartnerError as exc:
            _form_error(form, exc)
        else:
            messages.success(request, f"{form.cleaned_data['name']} is saved.")
            return redirect("portal:client_detail", pk=client.pk)
    return render(request, "partners/portal/clients/form.html", {"form": form, "client": client})


@portal_view(Capability.MANAGE_CLIENTS)
@require_POST
def client_status(request: HttpRequest, pk: int) -> HttpResponse:
    client = _client_or_404(request, pk)
    to_status = request.POST.get("to", "")
    if to_status not in BUTTON_STATUSES:
        messages.error(request, "Choose suspend or reactivate; churning has its own page.")
        return redirect("portal:client_detail", pk=client.pk)
    try:
        client = client_change_status(
            client=client, to_status=to_status, actor=Actor.from_request(request)
        )
    except PartnerError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"{client.name} is now {client.get_status_display().lower()}.")
    return redirect("portal:client_detail", pk=client.pk)


@portal_view(Capability.MANAGE_CLIENTS)
def client_churn(request: HttpRequest, pk: int) -> HttpResponse:
    client = _client_or_404(request, pk)
    if client.status == ClientStatus.CHURNED:
        messages.info(request, f"{client.name} has already churned.")
        return redirect("portal:client_detail", pk=client.pk)
    form = ClientChurnForm(request.POST or None, initial={"ended_on": today_for_vendor()})
    if request.method == "POST" and form.is_valid():
        try:
            client_change_status(
                client=client,
                to_status=ClientStatus.CHURNED,
                ended_on=form.cleaned_data["ended_on"],
                actor=Actor.from_request(request),
            )
        except PartnerError as exc:
            _form_error(form, exc)
        else:
            messages.success(request, f"{client.name} has churned.")
            return redirect("portal:client_detail", pk=client.pk)
    return render(request, "partners/portal/clients/churn.html", {"client": client, "form": form})


# ---- CSV import ---------------------------------------------------------------------------------


def _staged(request: HttpRequest) -> StagedImport | None:
    token = request.session.get(IMPORT_SESSION_KEY)
    if not token:
        return None
    return import_load(
        token=token,
        schema=connection.schema_name,
        partner=request.partner,
        user_id=request.user.pk,
    )


@portal_view(Capability.MANAGE_CLIENTS)
def client_import(request: HttpRequest) -> HttpResponse:
    """Step 1: upload. The file is read and kept aside; nothing is saved yet."""
    form = ClientImportForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            rows = read_client_csv(upload.read())
        except PartnerError as exc:
            form.add_error("file", str(exc))
        else:
            import_discard(request.session.get(IMPORT_SESSION_KEY))
            request.session[IMPORT_SESSION_KEY] = import_stage(
                schema=connection.schema_name,
                partner=request.partner,
                user_id=request.user.pk,
                file_name=upload.name,
                rows=rows,
            )
            return redirect("portal:clients_import_preview")
    context = {"form": form, "columns": COLUMNS, "has_pending": _staged(request) is not None}
    return render(request, "partners/portal/clients/import.html", context)


@portal_view(Capability.MANAGE_CLIENTS)
def client_import_preview(request: HttpRequest) -> HttpResponse:
    """Step 2: every row with its problems; then import all rows (only when none has a
    problem) or, when the user says so, only the valid ones."""
    staged = _staged(request)
    if staged is None:
        messages.info(request, "Upload a file to import; an upload waits at most two hours.")
        return redirect("portal:clients_import")
    checked = check_client_rows(partner=request.partner, rows=staged.rows)
    valid = [row for row in checked if row.is_valid]
    invalid = [row for row in checked if not row.is_valid]

    if request.method == "POST":
        response = _confirm_import(request, staged, valid, invalid)
        if response is not None:
            return response
        return redirect("portal:clients_import_preview")

    only_errors = request.GET.get("show") == "errors" and bool(invalid)
    page = Paginator(invalid if only_errors else checked, PREVIEW_PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    context = {
        "staged": staged,
        "total": len(checked),
        "valid_count": len(valid),
        "invalid_count": len(invalid),
        "page_obj": page,
        "only_errors": only_errors,
    }
    return render(request, "partners/portal/clients/import_preview.html", context)


def _confirm_import(
    request: HttpRequest,
    staged: StagedImport,
    valid: list[CheckedRow],
    invalid: list[CheckedRow],
) -> HttpResponse | None:
    """None: the confirmation was refused (the message says why); show the preview again."""
    if request.POST.get("token") != staged.token:
        messages.error(request, "This preview was replaced by a newer upload; check it again.")
        return None
    mode = request.POST.get("mode")
    if mode == "all" and invalid:
        messages.error(
            request,
            f"{rows_have(len(invalid))} errors, so nothing was imported. "
            "Fix the file, or import only the valid rows.",
        )
        return None
    if mode == "valid":
        if str(len(valid)) != request.POST.get("expected"):
            messages.error(
                request,
                "The rows changed since you looked: "
                f"{'1 row is' if len(valid) == 1 else f'{len(valid)} rows are'} valid now. "
                "Check the preview again.",
            )
            return None
        if not valid:
            messages.error(request, "No row is valid, so there is nothing to import.")
            return None
    elif mode != "all":
        messages.error(request, "Choose what to import.")
        return None
    actor = Actor.from_request(request)
    try:
        clients = clients_import(
            partner=request.partner,
            rows=[RawRow(line=row.line, values=row.values) for row in valid],
            actor=actor,
            source=staged.file_name,
            skipped_rows=len(invalid),
        )
    except PartnerError as exc:
        messages.error(request, str(exc))
        return None
    import_discard(staged.token)
    request.session.pop(IMPORT_SESSION_KEY, None)
    onboarding_refresh(partner=request.partner, actor=actor)
    plural = "s" if len(clients) != 1 else ""
    text = f"{len(clients)} client{plural} imported from {staged.file_name}."
    if invalid:
        text += (
            " 1 row with errors was left out."
            if len(invalid) == 1
            else f" {len(invalid)} rows with errors were left out."
        )
    messages.success(request, text)
    return redirect("portal:clients")


@portal_view(Capability.MANAGE_CLIENTS)
@require_POST
def client_import_cancel(request: HttpRequest) -> HttpResponse:
    import_discard(request.session.pop(IMPORT_SESSION_KEY, None))
    messages.info(request, "The upload is discarded; nothing was imported.")
    return redirect("portal:clients")
