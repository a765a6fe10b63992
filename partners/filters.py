"""Filter sets of the client lists: the portal's (one partner's clients) and the console's
(every partner's clients). Both take a queryset that is already scoped; filters only narrow it.

Dates are whole days in the vendor's time zone, both ends included. Sorting always ends on the
primary key so that pages never overlap or skip rows whatever the chosen column."""

from __future__ import annotations

import datetime
import zoneinfo
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import django_filters
import django_filters.fields
from django import forms
from django.db.models import Case, F, IntegerField, Q, QuerySet, Value, When
from django.db.models.lookups import Contains
from django.http import QueryDict
from django_filters.constants import EMPTY_VALUES

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


class QueryLinks:
    """Links to the current list with some query parameters changed, exactly as
    `{% querystring key=value … %}` renders them: a value of None removes the key, a changed key
    keeps its place, a new one comes last. Each parameter is encoded once, however many links a
    page has (a dozen or so: sort headers, status buttons, pages, the export)."""

    def __init__(self, params: QueryDict | None) -> None:
        self._encoded = {
            key: [_encode(key, value) for value in values]
            for key, values in (params.lists() if params is not None else ())
        }

    def href(self, **changes: str | int | None) -> str:
        parts: list[str] = []
        for key, encoded in self._encoded.items():
            if key not in changes:
                parts += encoded
            elif changes[key] is not None:
                parts.append(_encode(key, changes[key]))
        for key, value in changes.items():
            if key not in self._encoded and value is not None:
                parts.append(_encode(key, value))
        if not parts and not self._encoded:
            return ""
        return "?" + "&".join(parts)


def _encode(key: str, value: object) -> str:
    return urlencode({key: str(value)})  # as QueryDict.urlencode does, one pair at a time


def sort_columns(current: str, params: QueryDict | None = None) -> dict[str, SortColumn]:
    """The sortable columns' headers for the current sort and query string `params`."""
    descending = current.startswith("-")
    active_key = current.lstrip("-")
    links = QueryLinks(params)
    columns = {}
    for key, (label, _ordering) in SORTS.items():
        active = key == active_key
        # A click on the active column flips it; another column starts ascending, except dates,
        # where the newest first is what people look for.
        if active:
            next_value = key if descending else f"-{key}"
        else:
            next_value = f"-{key}" if key in ("created", "started") else key
        columns[key] = SortColumn(
            key,
            label,
            active,
            active and descending,
            next_value,
            links.href(page=None, sort=next_value),
        )
    return columns


class _DateRangeForm(forms.Form):
    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        start, end = cleaned.get("created_from"), cleaned.get("created_to")
        if start and end and end < start:
            raise forms.ValidationError("The “created to” date is before the “created from” date.")
        return cleaned


class _UpperContains(Contains):
    """`column LIKE UPPER('%value%')`: icontains against a column that is already upper-cased,
    so that the rows are not upper-cased again on every search."""

    def get_rhs_op(self, connection: Any, rhs: str) -> str:
        return f"LIKE UPPER({rhs})"


def search_condition(value: str) -> Q:
    """Clients whose name or external id contains `value`, ignoring case: the same rows as
    `name__icontains | external_id__icontains`, read from the upper-cased `search_key`."""
    value = value.strip()
    if not value:
        return Q()
    if "\n" in value:  # could match across the newline between the two in search_key
        return Q(name__icontains=value) | Q(external_id__icontains=value)
    return Q(_UpperContains(F("search_key"), value))


def _search_widget(placeholder: str) -> forms.TextInput:
    return forms.TextInput(
        attrs={"type": "search", "placeholder": placeholder, "autocomplete": "off"}
    )


def _date_widget() -> forms.DateInput:
    return forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


_FORM_CLASSES: dict[type, type[forms.Form]] = {}


class _ClientFilterBase(django_filters.FilterSet):
    """The filters narrow the rows through one condition, `conditions()`, which the list pages
    also hand to the database to count the matching rows alongside other counts."""

    q = django_filters.CharFilter(label="Search", widget=_search_widget("Name or external id"))
    status = django_filters.ChoiceFilter(
        label="Status", choices=ClientStatus.choices, empty_label="Any status"
    )
    # Not a filter: the order, applied last in filter_queryset (also without a value). Its
    # control is a column header, not a field of the filter form.
    sort = django_filters.ChoiceFilter(
        label="Sort by", choices=sort_choices(), empty_label=None, widget=forms.HiddenInput
    )

    class Meta:
        model = Client
        fields: list[str] = []

    def get_form_class(self) -> type[forms.Form]:
        # django-filters builds a new form class for every filter set; these fields are the
        # same for every request (per-partner choices are set on the form instance), so the
        # class is built once.
        form_class = _FORM_CLASSES.get(type(self))
        if form_class is None:
            form_class = _FORM_CLASSES[type(self)] = super().get_form_class()
        return form_class

    def match_q(self, value: str) -> Q:
        return search_condition(value)

    def _match(self, name: str, value: Any) -> Q:
        custom = getattr(self, f"match_{name}", None)
        if custom is not None:
            return custom(value)
        declared = self.filters[name]
        return Q(**{f"{declared.field_name}__{declared.lookup_expr}": value})

    def conditions(self, *, without: Collection[str] = ()) -> Q:
        """The valid filters with a value, but those named in `without`, as one condition.
        An invalid filter is left out (the form says why), as is one left empty. The search
        comes last: PostgreSQL tests the conditions in this order, so the LIKE runs only on
        the rows that the plain comparisons let through."""
        if not self.is_bound:
            return Q()
        self.form.errors  # noqa: B018 -- validates the form, so that cleaned_data exists
        condition = Q()
        values = self.form.cleaned_data
        for name in sorted(values, key=lambda name: name == "q"):
            if name == "sort" or name in without or values[name] in EMPTY_VALUES:
                continue
            condition &= self._match(name, values[name])
        return condition

    def filter_queryset(self, queryset: QuerySet) -> QuerySet:
        return apply_sort(queryset.filter(self.conditions()), self.form.cleaned_data.get("sort"))

    @property
    def current_sort(self) -> str:
        value = self.form.cleaned_data.get("sort") if self.is_bound else None
        return value or DEFAULT_SORT


class _ServiceTierField(django_filters.fields.ChoiceField):
    """A choice among the partner's service tiers. The list page learns them from the same query
    that counts the clients, which needs the other filters first: the value is checked against
    them in `PortalClientFilter.set_service_tiers`, not while the form is cleaned."""

    def validate(self, value: Any) -> None:
        forms.Field.validate(self, value)


class _ServiceTierFilter(django_filters.ChoiceFilter):
    field_class = _ServiceTierField


class PortalClientFilter(_ClientFilterBase):
    """One partner's clients. The service-tier choices are the distinct values of that partner's
    clients (`set_service_tiers`), so they never reveal another partner's data."""

    service_tier = _ServiceTierFilter(label="Service tier", empty_label="Any tier")
    created_from = django_filters.DateFilter(label="Created from", widget=_date_widget())
    created_to = django_filters.DateFilter(label="Created to", widget=_date_widget())

    class Meta(_ClientFilterBase.Meta):
        form = _DateRangeForm

    def __init__(
        self,
        *args: Any,
        tz: zoneinfo.ZoneInfo,
        service_tiers: list[str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.tz = tz
        self._tiers_known = False
        if service_tiers is not None:
            self.set_service_tiers(service_tiers)

    def set_service_tiers(self, service_tiers: list[str]) -> None:
        """The partner's service tiers: the choices of the tier filter, and what its value must
        be one of (otherwise the form says so and the filter is left out)."""
        field = self.form.fields["service_tier"]
        field.choices = [(tier, tier) for tier in service_tiers]
        self._tiers_known = True
        if not self.is_bound:
            return
        self.form.errors  # noqa: B018 -- validates the form, so that cleaned_data exists
        value = self.form.cleaned_data.get("service_tier")
        if value not in EMPTY_VALUES and not field.valid_value(value):
            self.form.add_error(
                "service_tier",
                forms.ValidationError(
                    field.error_messages["invalid_choice"],
                    code="invalid_choice",
                    params={"value": value},
                ),
            )

    def conditions(self, *, without: Collection[str] = ()) -> Q:
        if not self._tiers_known and "service_tier" not in without:
            raise RuntimeError("set_service_tiers() first: the tier filter is not checked yet")
        return super().conditions(without=without)

    def _day_start(self, day: datetime.date) -> datetime.datetime:
        return datetime.datetime.combine(day, datetime.time.min, tzinfo=self.tz)

    def match_created_from(self, value: datetime.date) -> Q:
        return Q(created_at__gte=self._day_start(value))

    def match_created_to(self, value: datetime.date) -> Q:
        return Q(created_at__lt=self._day_start(value + datetime.timedelta(days=1)))


class ConsoleClientFilter(_ClientFilterBase):
    """Every partner's clients, for vendor staff."""

    partner = django_filters.ModelChoiceFilter(
        label="Partner",
        queryset=Partner.objects.only("id", "name").order_by("name", "id"),
        empty_label="Any partner",
    )
