"""What the portal's and the console's usage pages share: the upload form, the import pages'
context, the template CSV, the per-client usage context and the running-estimate card.

The two areas differ in who they are for (portal_usage.py scopes everything by request.partner;
console_usage.py sees every partner) and in the CSV columns (console files name the partner)."""

from __future__ import annotations

import csv
import datetime
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import orjson
from django import forms
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.urls import reverse

from billing.closing.estimate import estimate_for_client
from billing.models import Meter
from billing.models_invoicing import UsageImport, UsageImportStatus
from billing.services.usage_imports import (
    can_start,
    is_checking,
    max_upload_bytes,
    size_label,
    staged_file,
    too_big_message,
)
from billing.usage_charts import daily_chart
from billing.usage_csv import columns_for, sample_valid_rows, template_rows
from billing.usage_selectors import (
    client_month_usage,
    current_month,
    format_quantity,
    month_usage_by_meter,
    next_month,
    parse_month,
    previous_month,
    vendor_zone,
)
from partners.evaluation import money
from partners.models import Client

RECENT_IMPORTS = 20
VENDOR_SUMMARY_SECONDS = 60
MONTHS_BACK = 12
S = UsageImportStatus
# The status badge's tone for each import status (includes/status_badge.html matches words).
BADGE_TONE = {
    S.PREVIEWED: "review",
    S.QUEUED: "pending",
    S.RUNNING: "in_progress",
    S.DONE: "completed",
    S.FAILED: "failed",
}
POLLING = frozenset({S.QUEUED, S.RUNNING})


class UsageUploadForm(forms.Form):
    file = forms.FileField(
        label="CSV file",
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"}),
    )

    def __init__(self, *args: Any, with_partner: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        columns = ",".join(c for c in columns_for(with_partner=with_partner) if c != "properties")
        self.fields["file"].help_text = (
            f"UTF-8, at most {size_label(max_upload_bytes())}, with the header row "
            f"{columns}[,properties]."
        )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > max_upload_bytes():
            raise forms.ValidationError(too_big_message())
        return upload


def template_csv(*, with_partner: bool) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="usage-template.csv"'
    writer = csv.writer(response)
    writer.writerow(columns_for(with_partner=with_partner))
    writer.writerows(template_rows(with_partner=with_partner))
    return response


# ---- imports ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ErrorLine:
    row: int
    field: str
    message: str


def error_lines(errors: list[dict[str, Any]]) -> list[ErrorLine]:
    """The stored row errors, one line per (row, field, message)."""
    lines = []
    for entry in errors or []:
        for error in entry.get("errors", []):
            lines.append(
                ErrorLine(int(entry.get("row", 0)), error.get("field") or "—", error["message"])
            )
    return lines


@dataclass(frozen=True)
class SampleRow:
    line: int
    cells: list[str]


def _cell(item: dict[str, Any] | None, column: str) -> str:
    value = (item or {}).get(column, "")
    if isinstance(value, dict):
        return orjson.dumps(value).decode() if value else ""
    return str(value)


def import_context(usage_import: UsageImport, *, area: str, can_manage: bool) -> dict[str, Any]:
    """The import page (a preview while it waits to be imported, progress and results after)."""
    context = progress_context(usage_import, area=area)
    context.update(
        {
            "usage_import": usage_import,
            "can_manage": can_manage,
            "can_start": can_manage and can_start(usage_import),
            "can_discard": can_manage and usage_import.status == S.PREVIEWED,
            "valid_rows": max(usage_import.total_rows - usage_import.rejected, 0),
            "columns": columns_for(with_partner=usage_import.partner_id is None),
            "sample": [],
            "start_url": reverse(f"{area}:usage_import_start", args=[usage_import.pk]),
            "discard_url": reverse(f"{area}:usage_import_discard", args=[usage_import.pk]),
        }
    )
    if usage_import.status == S.PREVIEWED:
        path = staged_file(usage_import)
        if path is not None and path.exists():
            rows = sample_valid_rows(
                path,
                with_partner=usage_import.partner_id is None,
                caller_partner_id=usage_import.partner_id,
            )
            context["sample"] = [
                SampleRow(row.line, [_cell(row.item, column) for column in context["columns"]])
                for row in rows
            ]
    return context


def status_label(usage_import: UsageImport) -> str:
    if is_checking(usage_import):
        return "Checking the file"
    if usage_import.status == S.FAILED and usage_import.started_at is None:
        return "Check failed"
    return usage_import.get_status_display()


def progress_context(usage_import: UsageImport, *, area: str) -> dict[str, Any]:
    return {
        "usage_import": usage_import,
        "display_tz": vendor_zone().key,
        "checking": is_checking(usage_import),
        "status_label": status_label(usage_import),
        "polling": usage_import.status in POLLING,
        "badge_tone": BADGE_TONE.get(usage_import.status, usage_import.status),
        "progress_url": reverse(f"{area}:usage_import_progress", args=[usage_import.pk]),
        "error_lines": error_lines(usage_import.errors),
        "more_errors": usage_import.rejected > len(usage_import.errors or []),
    }


@dataclass(frozen=True)
class ImportRow:
    usage_import: UsageImport
    badge_tone: str
    status_label: str
    checking: bool
    href: str


def import_rows(imports: list[UsageImport], *, area: str) -> list[ImportRow]:
    return [
        ImportRow(
            i,
            BADGE_TONE.get(i.status, i.status),
            status_label(i),
            is_checking(i),
            reverse(f"{area}:usage_import", args=[i.pk]),
        )
        for i in imports
    ]


def progress_response(request: HttpRequest, usage_import: UsageImport, *, area: str):
    """The progress block; when a background check has just finished, htmx is told to reload
    the page instead, which then shows the preview."""
    response = render(
        request, "billing/usage/_progress.html", progress_context(usage_import, area=area)
    )
    if getattr(request, "htmx", False) and usage_import.status == S.PREVIEWED:
        response["HX-Refresh"] = "true"
    return response


# ---- usage summaries ----------------------------------------------------------------------------


@dataclass(frozen=True)
class MeterLine:
    name: str
    code: str
    unit: str
    aggregation: str
    quantity: str
    events: int
    clients: int


def meter_lines(totals) -> list[MeterLine]:
    return [
        MeterLine(
            name=t.meter.name,
            code=t.meter.code,
            unit=t.meter.unit,
            aggregation=t.meter.get_aggregation_display(),
            quantity=format_quantity(t.quantity),
            events=t.events,
            clients=t.clients,
        )
        for t in totals
    ]


def month_summary(*, partner_id: int | None = None) -> dict[str, Any]:
    """This month per meter, for one partner or (None) the whole vendor. The vendor-wide figures
    scan every event of the month, so they are kept for VENDOR_SUMMARY_SECONDS (the cache keys
    are per vendor)."""
    month = current_month()
    if partner_id is not None:
        lines = meter_lines(month_usage_by_meter(month=month, partner_id=partner_id))
        return {
            "summary_month": month,
            "summary_lines": lines,
            "summary_cached": False,
            "display_tz": vendor_zone().key,
        }
    key = f"billing.usage.month_summary.{month:%Y-%m}"
    lines = cache.get(key)
    if lines is None:
        lines = meter_lines(month_usage_by_meter(month=month))
        cache.set(key, lines, VENDOR_SUMMARY_SECONDS)
    return {
        "summary_month": month,
        "summary_lines": lines,
        "summary_cached": True,
        "display_tz": vendor_zone().key,
    }


# ---- the running estimate -----------------------------------------------------------------------


@dataclass(frozen=True)
class EstimateLine:
    description: str
    quantity: str
    amount: str
    discount: str
    net: str


@dataclass(frozen=True)
class EstimateCard:
    available: bool
    currency: str = ""
    amount: str = ""
    discount: str = ""
    net: str = ""
    lines: tuple[EstimateLine, ...] = ()
    note: str = ""


def estimate_card(client: Client, today: datetime.date | None = None) -> EstimateCard:
    """The running estimate of this month's invoice lines for the client: the month-end close's
    own rating over the month so far (billing.closing.estimate)."""
    estimate = estimate_for_client(client, today=today)
    if estimate is None:
        return EstimateCard(
            available=False,
            note="Nothing is billed for this client this month so far (no subscription, or a "
            "client that is not billed).",
        )
    currency = estimate.currency

    def fmt(value: Decimal | None) -> str:
        return money(value, currency) if value is not None else "—"

    return EstimateCard(
        available=True,
        currency=currency,
        amount=fmt(estimate.amount),
        discount=fmt(estimate.discount),
        net=fmt(estimate.net),
        lines=tuple(
            EstimateLine(
                description=line.description,
                quantity=format_quantity(line.quantity),
                amount=fmt(line.amount),
                discount=fmt(line.discount),
                net=fmt(line.net_amount),
            )
            for line in estimate.lines
        ),
    )


# ---- one client's usage -------------------------------------------------------------------------


@dataclass(frozen=True)
class MonthChoice:
    value: str
    label: str
    selected: bool


def client_usage_context(
    request: HttpRequest, client: Client, *, area: str, today: datetime.date | None = None
) -> dict[str, Any]:
    this_month = current_month(today)
    month = parse_month(request.GET.get("month")) or this_month
    if month > this_month:
        month = this_month
    earliest = previous_month(this_month)
    for _ in range(MONTHS_BACK - 2):
        earliest = previous_month(earliest)
    started = client.started_on.replace(day=1)
    earliest = max(earliest, started) if started <= this_month else this_month
    earliest = min(earliest, month)
    choices = []
    cursor = this_month
    while cursor >= earliest:
        choices.append(MonthChoice(f"{cursor:%Y-%m}", f"{cursor:%B %Y}", cursor == month))
        cursor = previous_month(cursor)
    meters = list(Meter.objects.all())
    usage = client_month_usage(client_id=client.pk, month=month, meters=meters)
    charts = [
        {
            "meter": entry.meter,
            "quantity": format_quantity(entry.quantity),
            "events": entry.events,
            "chart": daily_chart(
                month=month, days=entry.days, unit=entry.meter.unit, name=entry.meter.name
            ),
        }
        for entry in usage
    ]
    url = reverse(f"{area}:client_usage", args=[client.pk])
    previous = previous_month(month)
    return {
        "client": client,
        "month": month,
        "is_current_month": month == this_month,
        "month_choices": choices,
        "charts": charts,
        "previous_href": f"{url}?month={previous:%Y-%m}" if previous >= earliest else "",
        "next_href": (
            f"{url}?month={next_month(month):%Y-%m}" if next_month(month) <= this_month else ""
        ),
        "estimate": estimate_card(client, today) if month == this_month else None,
    }


def render_client_section(request: HttpRequest, client: Client, area: str) -> str:
    """The compact usage summary on a client's page (portal or console)."""
    month = current_month()
    totals = month_usage_by_meter(month=month, client_id=client.pk)
    context = {
        "month": month,
        "lines": meter_lines(totals),
        "estimate": estimate_card(client),
        "usage_url": reverse(f"{area}:client_usage", args=[client.pk]),
    }
    return render_to_string("billing/usage/_client_section.html", context, request=request)
