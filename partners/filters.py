"""Filter sets of the client lists: the portal's (one partner's clients) and the console's
(every partner's clients). Both take a queryset that is already scoped; filters only narrow it.

Dates are whole days in the vendor's time zone, both ends included. Sorting always ends on the
primary key so that pages never overlap or skip rows whatever the chosen column."""

from __future__ import annotations

import datetime
import zoneinfo
from dataclasses import dataclass
from typing import Any

import django_filters
from django import forms
from django.db.models import Case, IntegerField, Q, QuerySet, Value, When
from django.http import QueryDict

from .enums import ClientStatus
from .models import Client, Partner

# Lifecycle order, so "sort by status" reads trial → active → nfr → suspended → churned.
_STATUS_RANK = Case(
    *(When(status=value, then=Value(rank)) for rank, value in enumerate(ClientStatus.values)),
    output_field=IntegerField(),
)

SORTS: dict[str, tuple[str, tuple[Any, ...]]] = {
    # key: (label, ordering)
    "name": ("Name", ("name", "id")),
    "created": ("Created", ("created_at", "id")),
    "status": ("Status", (_STATUS_RANK, "name", "id")),
    "started": ("Started", ("started_on", "name", "id")),
}
DEFAULT_SORT = "name"


def sort_choices() -> list[tuple[str, str]]:
    choices = []
    for key, (label, _ordering) in SORTS.items():
        choices.append((key, f"{label} (ascending)"))
        choices.append((f"-{key}", f"{label} (descending)"))
    return choices


def sort_label(sort: str) -> str:
    return dict(sort_choices()).get(sort, "")


def apply_sort(queryset: QuerySet, sort: str | None) -> QuerySet:
    key = (sort or DEFAULT_SORT).lstrip("-")
    if key not in SORTS:
        key, sort = DEFAULT_SORT, DEFAULT_SORT
    ordering = SORTS[key][1]
    if (sort or "").startswith("-"):
        return queryset.order_by(*(_descending(term) for term in ordering))
    return queryset.order_by(*ordering)


def _descending(term: Any) -> Any:
    return f"-{term}" if isinstance(term, str) else term.desc()


@dataclass(frozen=True)
class SortColumn:
    key: str
    label: str
    active: bool
    descending: bool
    next: str  # the sort value a click on the header asks for
    href: str  # the current query with that sort, back on the first page

    @property
    def aria_sort(self) -> str:
        if not self.active:
            return "none"
        return "descending" if self.descending else "ascending"

    @property
    def arrow(self) -> str:
        if not self.active:
            return ""
        return "↓" if self.descending else "↑"


def sort_columns(current: str, params: QueryDict | None = None) -> dict[str, SortColumn]:
    """The sortable columns' headers for the current sort and query string `params`."""
    descending = current.startswith("-")
    active_key = current.lstrip("-")
    columns = {}
    for key, (label, _ordering) in SORTS.items():
        active = key == active_key
        # A click on the active column flips it; another column starts ascending, except dates,
        # where the newest first is what people look for.
        if active:
            next_value = key if descending else f"-{key}"
        else:
            next_value = f"-{key}" if key in ("created", "started") else key
        query = params.copy() if params is not None else QueryDict(mutable=True)
        query.pop("page", None)
        query["sort"] = next_value
        columns[key] = SortColumn(
            key, label, active, active and descending, next_value, f"?{query.urlencode()}"
        )
    return columns


class _DateRangeForm(forms.Form):
    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        start, end = cleaned.get("created_from"), cleaned.get("created_to")
        if start and end and end < start:
            raise forms.ValidationError("The “created to” date is before the “created from” date.")
        return cleaned


def _search(queryset: QuerySet, name: str, value: str) -> QuerySet:
    value = value.strip()
    if not value:
        return queryset
    return queryset.filter(Q(name__icontains=value) | Q(external_id__icontains=value))


def _search_widget(placeholder: str) -> forms.TextInput:
    return forms.TextInput(
        attrs={"type": "search", "placeholder": placeholder, "autocomplete": "off"}
    )


def _date_widget() -> forms.DateInput:
    return forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class _ClientFilterBase(django_filters.FilterSet):
    q = django_filters.CharFilter(
        label="Search", method="filter_search", widget=_search_widget("Name or external id")
    )
    status = django_filters.ChoiceFilter(
        label="Status", choices=ClientStatus.choices, empty_label="Any status"
    )
    sort = django_filters.ChoiceFilter(
        label="Sort by", choices=sort_choices(), method="filter_sort", empty_label=None
    )

    class Meta:
        model = Client
        fields: list[str] = []

    def filter_search(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return _search(queryset, name, value)

    def filter_sort(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset  # applied last, in filter_queryset, so it also holds without a value

    def filter_queryset(self, queryset: QuerySet) -> QuerySet:
        filtered = super().filter_queryset(queryset)
        return apply_sort(filtered, self.form.cleaned_data.get("sort"))

    @property
    def current_sort(self) -> str:
        value = self.form.cleaned_data.get("sort") if self.is_bound else None
        return value or DEFAULT_SORT


class PortalClientFilter(_ClientFilterBase):
    """One partner's clients. `service_tiers` are the distinct values of that partner's
    clients, so the choices never reveal another partner's data."""

    service_tier = django_filters.ChoiceFilter(label="Service tier", empty_label="Any tier")
    created_from = django_filters.DateFilter(
        label="Created from", method="filter_created_from", widget=_date_widget()
    )
    created_to = django_filters.DateFilter(
        label="Created to", method="filter_created_to", widget=_date_widget()
    )

    class Meta(_ClientFilterBase.Meta):
        form = _DateRangeForm

    def __init__(
        self, *args: Any, tz: zoneinfo.ZoneInfo, service_tiers: list[str], **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.tz = tz
        self.filters["service_tier"].extra["choices"] = [(t, t) for t in service_tiers]
        # The sort control is a column header, not a field of the filter form.
        self.form.fields["sort"].widget = forms.HiddenInput()

    def _day_start(self, day: datetime.date) -> datetime.datetime:
        return datetime.datetime.combine(day, datetime.time.min, tzinfo=self.tz)

    def filter_created_from(self, queryset: QuerySet, name: str, value: datetime.date) -> QuerySet:
        return queryset.filter(created_at__gte=self._day_start(value))

    def filter_created_to(self, queryset: QuerySet, name: str, value: datetime.date) -> QuerySet:
        next_day = value + datetime.timedelta(days=1)
        return queryset.filter(created_at__lt=self._day_start(next_day))


class ConsoleClientFilter(_ClientFilterBase):
    """Every partner's clients, for vendor staff."""

    partner = django_filters.ModelChoiceFilter(
        label="Partner",
        queryset=Partner.objects.only("id", "name").order_by("name", "id"),
        empty_label="Any partner",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.form.fields["sort"].widget = forms.HiddenInput()
