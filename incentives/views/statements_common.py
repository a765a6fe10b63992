"""What the console and portal statement pages share: the list filter, the PDF and CSV
responses."""

from __future__ import annotations

import csv
import datetime
import io
from collections.abc import Iterable

import django_filters
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils.text import slugify

from partners.models import Partner

from ..models import Statement, StatementStatus
from ..pdf import statement_pdf, statement_pdf_filename
from ..selectors import CSV_HEADER, statement_csv_rows, statement_document

PAGE_SIZE = 50
FILTER_NAMES = ("month", "status", "partner")


class StatementFilter(django_filters.FilterSet):
    month = django_filters.ChoiceFilter(
        label="Month", empty_label="Any month", method="filter_month"
    )
    status = django_filters.ChoiceFilter(
        label="Status", choices=StatementStatus.choices, empty_label="Any status"
    )
    partner = django_filters.ModelChoiceFilter(
        label="Partner",
        queryset=Partner.objects.only("id", "name").order_by("name", "id"),
        empty_label="Any partner",
    )

    class Meta:
        model = Statement
        fields = ["month", "status", "partner"]

    def __init__(
        self, *args, months: Iterable[datetime.date] = (), partners: bool = True, **kwargs
    ) -> None:
        super().__init__(*args, **kwargs)
        self.filters["month"].extra["choices"] = [
            (f"{month:%Y-%m}", f"{month:%B %Y}") for month in months
        ]
        if not partners:
            del self.filters["partner"]

    def filter_month(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        year, month = value.split("-")
        return queryset.filter(month=datetime.date(int(year), int(month), 1))


def statement_pdf_response(request: HttpRequest, statement: Statement) -> HttpResponse:
    content = statement_pdf(
        statement_document(statement), vendor_name=getattr(request.tenant, "name", "")
    )
    response = HttpResponse(content, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{statement_pdf_filename(statement)}"'
    response["Cache-Control"] = "no-store"
    return response


def statement_csv_response(statement: Statement) -> HttpResponse:
    buffer = io.StringIO()
    buffer.write("\ufeff")  # so spreadsheet programs read the file as UTF-8
    writer = csv.writer(buffer)
    writer.writerow(CSV_HEADER)
    writer.writerows(statement_csv_rows(statement_document(statement)))
    response = HttpResponse(buffer.getvalue(), content_type="text/csv; charset=utf-8")
    name = f"statement-{statement.month:%Y-%m}-{slugify(statement.partner.name) or 'partner'}.csv"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["Cache-Control"] = "no-store"
    return response
