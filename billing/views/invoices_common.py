"""What the console and portal invoice pages share: the PDF and CSV responses, and the filter
form of an invoice list (month, status and — in the console — partner)."""

from __future__ import annotations

import csv
import datetime
from collections.abc import Iterable, Iterator

import django_filters
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.utils.text import slugify

from billing.models import Invoice
from billing.models_invoicing import InvoiceStatus
from billing.pdf import invoice_pdf, pdf_filename
from billing.selectors_invoices import LINE_EXPORT_HEADER, invoice_document, line_export_rows
from partners.models import Partner

PAGE_SIZE = 50


class _Echo:
    """A file-like object whose write returns the line, for streaming csv.writer output."""

    def write(self, value: str) -> str:
        return value


def _csv_stream(rows: Iterable[list[str]]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield "\ufeff"  # so spreadsheet programs read the file as UTF-8
    yield writer.writerow(LINE_EXPORT_HEADER)
    for row in rows:
        yield writer.writerow(row)


def lines_csv_response(invoices: QuerySet[Invoice], filename: str) -> StreamingHttpResponse:
    """The lines of `invoices` as a streamed CSV download."""
    response = StreamingHttpResponse(
        _csv_stream(line_export_rows(invoices)), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    return response


def invoice_csv_name(invoice: Invoice) -> str:
    name = invoice.number or f"draft-{invoice.period.month:%Y-%m}"
    return f"{name}-{slugify(invoice.bill_to_name) or 'partner'}-lines.csv"


def pdf_response(request: HttpRequest, invoice: Invoice) -> HttpResponse:
    content = invoice_pdf(
        invoice_document(invoice), vendor_name=getattr(request.tenant, "name", "")
    )
    response = HttpResponse(content, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{pdf_filename(invoice)}"'
    response["Cache-Control"] = "no-store"
    return response


def month_value(month: datetime.date) -> str:
    return f"{month:%Y-%m}"


class InvoiceFilter(django_filters.FilterSet):
    """Month (those that have invoices), status and, with `partners=True`, partner."""

    month = django_filters.ChoiceFilter(
        label="Month", empty_label="Any month", method="filter_month"
    )
    status = django_filters.ChoiceFilter(
        label="Status", choices=InvoiceStatus.choices, empty_label="Any status"
    )
    partner = django_filters.ModelChoiceFilter(
        label="Partner",
        queryset=Partner.objects.only("id", "name").order_by("name", "id"),
        empty_label="Any partner",
    )

    class Meta:
        model = Invoice
        fields = ["month", "status", "partner"]

    def __init__(
        self,
        *args,
        months: Iterable[datetime.date] = (),
        partners: bool = True,
        **kwargs,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.filters["month"].extra["choices"] = [
            (month_value(month), f"{month:%B %Y}") for month in months
        ]
        if not partners:
            del self.filters["partner"]

    def filter_month(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        year, month = value.split("-")
        return queryset.filter(period__month=datetime.date(int(year), int(month), 1))


def partial_request(request: HttpRequest) -> bool:
    """An htmx request for the results block only (not a history restore, which needs the page)."""
    htmx = getattr(request, "htmx", None)
    return bool(htmx) and not htmx.history_restore_request
