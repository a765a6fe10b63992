"""The audit log as a page: filterable, paginated, rows expandable to the before/after diff.

The same page serves the vendor console (the vendor's schema) and the platform operators (the public
schema): `render_audit_log` reads whatever schema the request runs in. Filters change the results
through htmx, which gets only the results fragment back and pushes the filtered URL to the history.
"""

from __future__ import annotations

import datetime
import json
import zoneinfo
from dataclasses import dataclass
from typing import Any

import django_filters
from django import forms
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Page, Paginator
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.cache import patch_vary_headers

from accounts.enums import VendorRole
from core.models import AuditEntry

PAGE_SIZE = 50


class AuditFilterForm(forms.Form):
    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        start, end = cleaned.get("date_from"), cleaned.get("date_to")
        if start and end and end < start:
            raise forms.ValidationError("The “to” date is before the “from” date.")
        return cleaned


def _distinct(field: str) -> list[tuple[str, str]]:
    values = AuditEntry.objects.order_by(field).values_list(field, flat=True).distinct()
    return [(value, value) for value in values]


class AuditEntryFilter(django_filters.FilterSet):
    """Dates are whole days in `tz` (the vendor's time zone), both ends included."""

    action = django_filters.ChoiceFilter(label="Action", empty_label="Any action")
    object_type = django_filters.ChoiceFilter(label="Object type", empty_label="Any type")
    actor = django_filters.CharFilter(
        field_name="actor_label",
        lookup_expr="icontains",
        label="Actor",
        widget=forms.TextInput(
            attrs={"type": "search", "placeholder": "Email or key name", "autocomplete": "off"}
        ),
    )
    date_from = django_filters.DateFilter(
        label="From",
        method="filter_from",
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    date_to = django_filters.DateFilter(
        label="To",
        method="filter_to",
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )

    class Meta:
        model = AuditEntry
        fields: list[str] = []
        form = AuditFilterForm

    def __init__(self, *args: Any, tz: zoneinfo.ZoneInfo, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.tz = tz
        # The choices are the values present in this log: one query each, whatever the row count.
        self.filters["action"].extra["choices"] = _distinct("action")
        self.filters["object_type"].extra["choices"] = _distinct("object_type")

    def _day_start(self, day: datetime.date) -> datetime.datetime:
        return datetime.datetime.combine(day, datetime.time.min, tzinfo=self.tz)

    def filter_from(self, queryset: QuerySet, name: str, value: datetime.date) -> QuerySet:
        return queryset.filter(at__gte=self._day_start(value))

    def filter_to(self, queryset: QuerySet, name: str, value: datetime.date) -> QuerySet:
        return queryset.filter(at__lt=self._day_start(value + datetime.timedelta(days=1)))


@dataclass(frozen=True)
class FieldChange:
    field: str
    before: str | None  # None: the field is absent on this side (creation or deletion)
    after: str | None


def _show(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def entry_changes(entry: AuditEntry) -> list[FieldChange]:
    """The fields of an entry's before/after snapshots, side by side, in a stable order."""
    before = entry.before if isinstance(entry.before, dict) else {}
    after = entry.after if isinstance(entry.after, dict) else {}
    names = sorted(set(before) | set(after))
    return [
        FieldChange(
            field=name,
            before=_show(before[name]) if name in before else None,
            after=_show(after[name]) if name in after else None,
        )
        for name in names
    ]


def render_audit_log(
    request: HttpRequest,
    *,
    base_template: str,
    tz: zoneinfo.ZoneInfo,
    heading: str,
) -> HttpResponse:
    filterset = AuditEntryFilter(request.GET or None, queryset=AuditEntry.objects.all(), tz=tz)
    paginator = Paginator(filterset.qs, PAGE_SIZE)
    page: Page = paginator.get_page(request.GET.get("page"))
    entries = list(page.object_list)
    for entry in entries:
        entry.changes = entry_changes(entry)
    context = {
        "base_template": base_template,
        "heading": heading,
        "filter": filterset,
        "form": filterset.form,
        "page_obj": page,
        "entries": entries,
        "display_tz": tz.key,
        "is_filtered": any(
            value for name, value in request.GET.items() if name in filterset.filters
        ),
    }
    htmx = getattr(request, "htmx", None)
    # A history restore asks for the whole page (htmx swaps the body), any other htmx request
    # only for the results.
    partial = bool(htmx) and not htmx.history_restore_request
    template = "audit/_results_htmx.html" if partial else "audit/log.html"
    response = render(request, template, context)
    patch_vary_headers(response, ["HX-Request"])
    return response


@login_required
def audit_log(request: HttpRequest) -> HttpResponse:
    """/console/audit-log/: vendor admins and analysts."""
    user = request.user
    if not (user.is_console_user and user.has_vendor_role(VendorRole.ANALYST)):
        raise PermissionDenied
    return render_audit_log(
        request,
        base_template="console/base.html",
        tz=zoneinfo.ZoneInfo(request.tenant.timezone),
        heading="Audit log",
    )
