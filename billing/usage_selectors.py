"""Reads of usage for pages: a month's quantities per meter (for a partner, a client or the whole
vendor) and one client's daily figures per meter.

Quantities use each meter's own aggregation through the SQL fragments month-end rating uses
(`billing.rating.aggregations`, `aggregation_for(kind, unique_property).sql()`), per client and
over the billing month `[1st 00:00, next 1st 00:00)` in the vendor's time zone, so the figure a
page shows for a client is the quantity rating will bill. Figures for several clients (a partner,
the vendor) add up each client's figure. Every read is one SQL statement, whatever the number of
meters, clients or events.
"""

from __future__ import annotations

import datetime
import zoneinfo
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import connection
from django.utils import timezone

from billing.models import Meter
from billing.models_usage import UsageEvent
from billing.rating.aggregations import aggregation_for

_TABLE = UsageEvent._meta.db_table


def vendor_zone() -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(getattr(connection.tenant, "timezone", None) or "UTC")


def current_month(today: datetime.date | None = None) -> datetime.date:
    if today is None:
        today = timezone.now().astimezone(vendor_zone()).date()
    return today.replace(day=1)


def next_month(month: datetime.date) -> datetime.date:
    return (month.replace(day=28) + datetime.timedelta(days=4)).replace(day=1)


def previous_month(month: datetime.date) -> datetime.date:
    return (month.replace(day=1) - datetime.timedelta(days=1)).replace(day=1)


def month_bounds(
    month: datetime.date, zone: zoneinfo.ZoneInfo | None = None
) -> tuple[datetime.datetime, datetime.datetime]:
    """[start, end) of a billing month in UTC: midnights of the 1st in the vendor's time zone."""
    zone = zone or vendor_zone()
    start = datetime.datetime.combine(month.replace(day=1), datetime.time(), tzinfo=zone)
    end = datetime.datetime.combine(next_month(month), datetime.time(), tzinfo=zone)
    return start.astimezone(datetime.UTC), end.astimezone(datetime.UTC)


def parse_month(value: str | None) -> datetime.date | None:
    """ "2026-03" → 2026-03-01; anything else → None."""
    if not value or len(value) != 7 or value[4] != "-":
        return None
    try:
        return datetime.date(int(value[:4]), int(value[5:]), 1)
    except ValueError:
        return None


def _quantity_case(meters: list[Meter]) -> tuple[str, list]:
    """`CASE meter_id … END`: each meter's aggregate, picked per group (one scan for all)."""
    by_aggregation: dict[tuple[str, str], list[int]] = {}
    for meter in meters:
        by_aggregation.setdefault((meter.aggregation, meter.unique_property), []).append(meter.pk)
    parts, params = [], []
    for (kind, unique_property), ids in by_aggregation.items():
        aggregate = aggregation_for(kind, unique_property or None).sql()
        parts.append(f"WHEN meter_id = ANY(%s) THEN ({aggregate.sql})::numeric")
        params += [ids, *aggregate.params]
    return "CASE " + " ".join(parts) + " END", params


@dataclass(frozen=True)
class MeterTotal:
    meter: Meter
    quantity: Decimal
    events: int
    clients: int


def month_usage_by_meter(
    *,
    month: datetime.date,
    partner_id: int | None = None,
    client_id: int | None = None,
    meters: list[Meter] | None = None,
) -> list[MeterTotal]:
    """Each meter with usage in the month: the sum over clients of each client's quantity (what
    rating bills per client, before any pooling), the number of events and of clients. Scoped to
    a partner, a client, or (neither) the whole vendor. Two queries (one if `meters` is given)."""
    meters = list(Meter.objects.all()) if meters is None else meters
    if not meters:
        return []
    start, end = month_bounds(month)
    case, case_params = _quantity_case(meters)
    where, where_params = ["timestamp >= %s", "timestamp < %s"], [start, end]
    if partner_id is not None:
        where.append("partner_id = %s")
        where_params.append(partner_id)
    if client_id is not None:
        where.append("client_id = %s")
        where_params.append(client_id)
    sql = f"""
        SELECT meter_id, SUM(quantity), SUM(events), COUNT(*)
        FROM (
            SELECT meter_id, client_id, {case} AS quantity, COUNT(*) AS events
            FROM {_TABLE}
            WHERE {" AND ".join(where)}
            GROUP BY meter_id, client_id
        ) per_client
        GROUP BY meter_id
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, [*case_params, *where_params])
        rows = {meter_id: row for meter_id, *row in cursor.fetchall()}
    result = []
    for meter in meters:
        if meter.pk in rows:
            quantity, events, clients = rows[meter.pk]
            result.append(MeterTotal(meter, Decimal(quantity), int(events), int(clients)))
    return result


@dataclass
class ClientMeterUsage:
    """One meter's usage by one client in one month: the month's quantity (the meter's
    aggregation over the whole month, what rating bills) and each day's figure (the same
    aggregation over that day)."""

    meter: Meter
    quantity: Decimal = Decimal(0)
    events: int = 0
    days: dict[datetime.date, Decimal] = field(default_factory=dict)


def client_month_usage(
    *, client_id: int, month: datetime.date, meters: list[Meter] | None = None
) -> list[ClientMeterUsage]:
    """Each meter the client used in the month, with its daily figures (days in the vendor's
    time zone). One query (two if `meters` is not given)."""
    meters = list(Meter.objects.all()) if meters is None else meters
    if not meters:
        return []
    zone = vendor_zone()
    start, end = month_bounds(month, zone)
    case, case_params = _quantity_case(meters)
    sql = f"""
        SELECT meter_id, day, GROUPING(day) AS is_total, {case} AS quantity, COUNT(*)
        FROM (
            SELECT meter_id, quantity, timestamp, event_id, properties, unique_value,
                   (timestamp AT TIME ZONE %s)::date AS day
            FROM {_TABLE}
            WHERE client_id = %s AND timestamp >= %s AND timestamp < %s
        ) events
        GROUP BY GROUPING SETS ((meter_id, day), (meter_id))
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, [*case_params, zone.key, client_id, start, end])
        rows = cursor.fetchall()
    by_meter = {meter.pk: meter for meter in meters}
    usage: dict[int, ClientMeterUsage] = {}
    for meter_id, day, is_total, quantity, events in rows:
        entry = usage.setdefault(meter_id, ClientMeterUsage(by_meter[meter_id]))
        if is_total:
            entry.quantity = Decimal(quantity)
            entry.events = int(events)
        else:
            entry.days[day] = Decimal(quantity)
    return [usage[meter.pk] for meter in meters if meter.pk in usage]


def format_quantity(value: Decimal) -> str:
    """12.500000 → "12.5", 1234 → "1,234" (exact: no rounding)."""
    normalized = value.normalize()
    if normalized == normalized.to_integral():
        normalized = normalized.quantize(Decimal(1))
    return f"{normalized:,f}"
