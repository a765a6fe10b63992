"""The client tables of the portal and the console: paging and rows.

Both pages must stay within a small multiple of a bare portal view whatever the number of
clients (benchmarks/portal_clients.py), so a page costs a fixed, small number of queries, reads
plain tuples rather than model instances, and its 50 rows are rendered without a template loop:
50 rows × a dozen variables through the template engine cost more than the rest of the page (so
Django's admin, too, builds its result rows in Python). The markup here is the one of the tables
in templates/partners/{portal,console}/clients/_results.html.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Callable, Iterable
from html import escape

from django.core.paginator import Page, Paginator
from django.db.models import QuerySet
from django.urls import NoReverseMatch, reverse
from django.utils.safestring import SafeString, mark_safe

from partners.enums import UNBILLED_CLIENT_STATUSES, ClientStatus

# The same tones as includes/status_badge.html gives these words.
STATUS_TONES = {
    ClientStatus.TRIAL: "badge-warning",
    ClientStatus.ACTIVE: "badge-success",
    ClientStatus.NFR: "badge-info",
    ClientStatus.SUSPENDED: "badge-danger",
    ClientStatus.CHURNED: "badge-danger",
}
_STATUS_CELLS = {
    status: f'<span class="badge badge-status {STATUS_TONES[status]}">{escape(label)}</span>'
    + (
        ' <span class="badge badge-neutral">not billed</span>'
        if status in UNBILLED_CLIENT_STATUSES
        else ""
    )
    for status, label in ClientStatus.choices
}
# Columns read for a row, in this order (the console adds the partner's name).
ROW_FIELDS = (
    "id",
    "partner_id",
    "name",
    "external_id",
    "status",
    "service_tier",
    "started_on",
    "ended_on",
    "created_at",
)
CONSOLE_ROW_FIELDS = (*ROW_FIELDS, "partner__name")
DEFERRED_JOIN_FROM = 1000  # rows skipped before a page is read through its ids
_PK = 2147483647  # a placeholder id, swapped for each row's: one reverse() per page, not per row


class CountedPaginator(Paginator):
    """A paginator that can be told the total, when the caller already counted the rows."""

    def __init__(self, *args, count: int | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if count is not None:
            self.__dict__["count"] = count  # fills the cached_property


def paginate(queryset: QuerySet, page: str | None, per_page: int, *, total: int) -> Page:
    """One page of `queryset` (a values_list in a total order, as the filters' sorts are) of
    `total` rows, counted by the caller: one query, the page's rows, and none when there are no
    rows. A page past the end is the last page."""
    try:
        number = max(int(page or 1), 1)
    except (TypeError, ValueError):
        number = 1
    page_obj = CountedPaginator(queryset, per_page, count=total).get_page(number)
    before = (page_obj.number - 1) * per_page
    size = min(per_page, total - before)
    after = total - before - size
    if before < DEFERRED_JOIN_FROM and before <= after:
        return page_obj  # near the start: the sliced queryset as it is
    # Skip as few rows as possible: a page nearer the end is read in the reverse order from
    # the end (the order is total, so the same rows) and turned around.
    backwards = after < before
    ordered, skip = (queryset.reverse(), after) if backwards else (queryset, before)
    if skip >= DEFERRED_JOIN_FROM:
        # Deep in the middle: sort and skip narrow (id, sort key) rows, then read the page's
        # rows whole, instead of sorting every full row to throw most of them away.
        ids = ordered.values_list("id", flat=True)[skip : skip + size]
        rows = list(ordered.filter(id__in=ids))
    else:
        rows = list(ordered[skip : skip + size])
    if backwards:
        rows.reverse()
    page_obj.object_list = rows
    return page_obj


def _url_maker(view_name: str) -> Callable[[int], str]:
    try:
        template = reverse(view_name, args=[_PK])
    except NoReverseMatch:  # that page does not exist (yet)
        return lambda pk: ""
    marker = str(_PK)
    return lambda pk: template.replace(marker, str(pk))


def _common_cells(row: tuple, tz: zoneinfo.ZoneInfo) -> str:
    _pk, _partner, _name, _ext, status, tier, started_on, ended_on, created_at = row[:9]
    started = started_on.isoformat()
    if ended_on is not None:
        started += f'<br><span class="muted">ended {ended_on.isoformat()}</span>'
    created = created_at.astimezone(tz)
    return (
        f'<td data-label="Status">{_STATUS_CELLS.get(status, escape(status))}</td>'
        f'<td data-label="Service tier">{escape(tier) if tier else "—"}</td>'
        f'<td class="nowrap" data-label="Started">{started}</td>'
        f'<td class="nowrap" data-label="Created"><time datetime="'
        f'{created.isoformat(timespec="seconds")}">{created.date().isoformat()}</time></td>'
    )


def portal_client_rows(rows: Iterable[tuple], tz: zoneinfo.ZoneInfo) -> SafeString:
    """The `<tr>` of each client (ROW_FIELDS tuples) in the portal's list, one per line, as one
    piece of markup (one variable for the template); names link to the client's page."""
    client_url = _url_maker("portal:client_detail")
    html = []
    for row in rows:
        pk, _partner, name, external_id = row[:4]
        html.append(
            f'<tr data-client-id="{pk}">'
            f'<td data-label="Name"><a href="{client_url(pk)}"><strong>{escape(name)}'
            f"</strong></a></td>"
            f'<td class="mono" data-label="External id">{escape(external_id)}</td>'
            f"{_common_cells(row, tz)}</tr>"
        )
    return mark_safe("\n      ".join(html))  # noqa: S308 -- every text value is escaped


def console_client_rows(rows: Iterable[tuple], tz: zoneinfo.ZoneInfo) -> list[SafeString]:
    """The `<tr>` of each client (CONSOLE_ROW_FIELDS tuples) in the console's list, with its
    partner."""
    partner_url = _url_maker("console:partner_detail")
    html = []
    for row in rows:
        pk, partner_id, name, external_id = row[:4]
        partner_name = escape(row[9])
        url = partner_url(partner_id)
        partner = f'<a href="{url}">{partner_name}</a>' if url else partner_name
        html.append(
            mark_safe(  # noqa: S308 -- every text value is escaped above or here
                f'<tr data-client-id="{pk}">'
                f'<td data-label="Client"><strong>{escape(name)}</strong></td>'
                f'<td class="mono" data-label="External id">{escape(external_id)}</td>'
                f'<td data-label="Partner">{partner} <a class="muted" href="?partner={partner_id}"'
                f' aria-label="Only the clients of {partner_name}">(filter)</a></td>'
                f"{_common_cells(row, tz)}</tr>"
            )
        )
    return html
