"""What a period's invoices should be for some partners: read in bulk, aggregate in SQL, price in
Python. Nothing here writes; the month-end close writes the result (`write.py`) and the running
estimate shows it as is.

For a chunk of partners: one query for their billable subscriptions, one for the seat changes, and
the usage aggregated over the period (GROUP BY partner, client, meter: one query for every meter
whose aggregate needs only the quantity — answered from the index `billing_usage_rating_q_idx`
alone — and one per other kind, see `aggregate_usage`); then, a part of the chunk's partners at a
time, one query for the partners and pure pricing (`billing.rating`): each charge of the
price-plan version in effect that month, per client or pooled over the partner's clients; the
partner tier's discount per line; tax on the invoice. Pure results that repeat (seat counts,
prices of a quantity, tier breakdowns) are computed once per call.
"""

from __future__ import annotations

import datetime
import functools
import zoneinfo
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import connection

from billing.closing.drafts import DraftInvoice, DraftLine
from billing.models import Charge, Meter, PricePlan, SeatQuantityChange, Subscription, UsageEvent
from billing.rating.aggregations import SqlColumns, aggregation_for
from billing.rating.charge_models import price
from billing.rating.pooling import rate_charge
from billing.rating.seats import BillingMonth, QuantityChange, SeatSubscription, count_seats
from billing.rating.types import ChargeSpec, PricedQuantity, Tier, TierAmount
from billing.selectors import price_plans_with_versions, version_in_effect
from core.money import LineTotals, invoice_totals, line_totals
from partners.enums import ClientStatus
from partners.models import Client, Partner

NOT_BILLED = (ClientStatus.TRIAL, ClientStatus.NFR)
ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class PeriodBounds:
    """A calendar month in the vendor's timezone: [starts_at, ends_at) as aware datetimes."""

    month: datetime.date  # the first day
    starts_at: datetime.datetime
    ends_at: datetime.datetime

    @property
    def last_day(self) -> datetime.date:
        return BillingMonth(self.month.year, self.month.month).last_day

    @property
    def billing_month(self) -> BillingMonth:
        return BillingMonth(self.month.year, self.month.month)


def next_month(month: datetime.date) -> datetime.date:
    return (month.replace(day=28) + datetime.timedelta(days=4)).replace(day=1)


def previous_month(month: datetime.date) -> datetime.date:
    return (month.replace(day=1) - datetime.timedelta(days=1)).replace(day=1)


_timezones: dict[str, str] = {}


def vendor_timezone() -> zoneinfo.ZoneInfo:
    """The current vendor's timezone. Requests and tasks carry the Vendor itself; code run under
    django-tenants' schema_context (commands, the demo seed) has only the schema name, so the
    vendor's zone is looked up once per schema and process."""
    name = getattr(connection.tenant, "timezone", None)
    if not name:
        schema = connection.schema_name
        if schema not in _timezones:
            from tenancy.models import Vendor

            _timezones[schema] = (
                Vendor.objects.filter(schema_name=schema).values_list("timezone", flat=True).first()
                or "UTC"
            )
        name = _timezones[schema]
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("UTC")


def vendor_today(now: datetime.datetime | None = None) -> datetime.date:
    now = now or datetime.datetime.now(datetime.UTC)
    return now.astimezone(vendor_timezone()).date()


def period_bounds(month: datetime.date, tz: zoneinfo.ZoneInfo | None = None) -> PeriodBounds:
    tz = tz or vendor_timezone()
    first = month.replace(day=1)
    following = next_month(first)
    return PeriodBounds(
        month=first,
        starts_at=datetime.datetime.combine(first, datetime.time(), tzinfo=tz),
        ends_at=datetime.datetime.combine(following, datetime.time(), tzinfo=tz),
    )


@dataclass(frozen=True, slots=True)
class ChargeInfo:
    """What rating needs of one charge of a plan version, worked out once per catalog."""

    charge: Charge
    pk: int
    meter_id: int | None
    seats: bool
    counting_rule: str
    pooled: bool
    plan_code: str
    currency: str
    description: str
    spec: ChargeSpec


class Catalog:
    """Every price plan with its versions, charges, meters and tiers, loaded once (a constant
    number of queries) and shared by all the chunks a worker rates; ChargeSpecs cached."""

    def __init__(self) -> None:
        self.plans: dict[int, PricePlan] = {plan.pk: plan for plan in price_plans_with_versions()}
        self.meters: dict[int, Meter] = {meter.pk: meter for meter in Meter.objects.all()}
        self._specs: dict[int, ChargeSpec] = {}
        self._versions: dict[tuple[int, datetime.date], Any] = {}
        self._charges: dict[tuple[int, datetime.date], tuple[ChargeInfo, ...]] = {}
        self._positions: dict[int, tuple] | None = None

    def version(self, plan_id: int, month: datetime.date):
        key = (plan_id, month)
        if key not in self._versions:
            plan = self.plans.get(plan_id)
            self._versions[key] = version_in_effect(plan, month) if plan else None
        return self._versions[key]

    def spec(self, charge: Charge, currency: str) -> ChargeSpec:
        spec = self._specs.get(charge.pk)
        if spec is None:
            spec = charge_spec(charge, currency)
            self._specs[charge.pk] = spec
        return spec

    def charges(self, plan_id: int, month: datetime.date) -> tuple[ChargeInfo, ...]:
        """The charges of the plan's version in effect that month (none without one)."""
        key = (plan_id, month)
        infos = self._charges.get(key)
        if infos is None:
            version = self.version(plan_id, month)
            plan = self.plans.get(plan_id)
            infos = tuple(
                ChargeInfo(
                    charge=charge,
                    pk=charge.pk,
                    meter_id=charge.meter_id,
                    seats=charge.seats,
                    counting_rule=charge.counting_rule,
                    pooled=charge.pooled,
                    plan_code=plan.code,
                    currency=plan.currency,
                    description=_description(charge, self.meters, plan),
                    spec=self.spec(charge, plan.currency),
                )
                for charge in (version.charges.all() if version is not None else ())
            )
            self._charges[key] = infos
        return infos

    def positions(self) -> dict[int, tuple]:
        """Each charge's place on an invoice: (plan code, position in its version)."""
        if self._positions is None:
            self._positions = {
                charge.pk: (plan.code, charge.position)
                for plan in self.plans.values()
                for version in plan.versions.all()
                for charge in version.charges.all()
            }
        return self._positions


def charge_spec(charge: Charge, currency: str) -> ChargeSpec:
    """The pure engine's view of a stored charge (tiers must be prefetched in order)."""
    return ChargeSpec(
        model=charge.model,
        currency=currency,
        unit_price=charge.unit_price,
        tiers=tuple(
            Tier(up_to=tier.up_to, unit_price=tier.unit_price, flat_fee=tier.flat_fee)
            for tier in charge.tiers.all()
        ),
        package_size=charge.package_size,
        package_price=charge.package_price,
        flat_fee=charge.flat_fee,
        pooled=charge.pooled,
        counting_rule=charge.counting_rule or None,
    )


_COLUMNS = {
    "quantity": "quantity",
    "timestamp": '"timestamp"',
    "event_id": "event_id",
    "properties": "properties",
    "unique_value": "unique_value",
}


def _sorts(sql: str) -> bool:
    """Whether PostgreSQL must sort a group's rows for this aggregate (DISTINCT or ORDER BY
    inside it), which rules out hashing the groups."""
    text = " ".join(sql.upper().split())
    return "DISTINCT" in text or "ORDER BY" in text


def aggregate_usage(
    partner_ids: Sequence[int], bounds: PeriodBounds, meters: Iterable[Meter]
) -> dict[tuple[int, int, int], Decimal]:
    """{(partner, client, meter): quantity} over the period, each meter by its own aggregation.

    GROUP BY (partner, client, meter) over the period's events of these partners. A group holds
    one meter's events, so one query can carry the aggregates of several kinds of aggregation
    (the registry's SQL, one column each, each fed only its own meters' rows — the others see
    NULL) and read each group's quantity from its meter's column. Aggregates that only need the
    quantity share one query, which PostgreSQL hashes and answers from the rating index alone
    (it includes the quantity). Distinct counts (`distinct_values`) share another: grouped by
    (partner, client, meter, value) and then counted per (partner, client, meter) — two hashed
    aggregates rather than a sort of every event (COUNT(DISTINCT …) sorts). Any other aggregate
    that sorts its rows (`latest`) or reads more of the event gets a query of its own over its
    own meters' rows. The period's events of a chunk of partners are spread over the whole
    table: every query that reads the table itself reads most of its pages, so there are as few
    of those as possible."""
    groups: dict[tuple[str, str], list[int]] = defaultdict(list)
    for meter in meters:
        groups[(meter.aggregation, meter.unique_property)].append(meter.pk)
    result: dict[tuple[int, int, int], Decimal] = {}
    if not partner_ids or not groups:
        return result
    shared: list[tuple[Any, list[int]]] = []
    distinct: list[tuple[Any, list[int]]] = []
    alone: list[tuple[Any, list[int]]] = []
    for (kind, unique_property), meter_ids in sorted(groups.items()):
        aggregation = aggregation_for(kind, unique_property or None)
        plain_sql = aggregation.sql()
        if aggregation.distinct_values() is not None:
            distinct.append((aggregation, meter_ids))
        elif _sorts(plain_sql.sql) or any(
            column in plain_sql.sql for column in ("properties", "event_id", "timestamp")
        ):
            alone.append((aggregation, meter_ids))
        else:
            shared.append((aggregation, meter_ids))
    table = UsageEvent._meta.db_table
    where = (
        # ::bigint[]: Django sends small ids as int2[], which can steer the planner off the
        # bigint index (to a plain index scan: a random heap read per event).
        f"FROM {table} WHERE partner_id = ANY(%s::bigint[]) AND timestamp >= %s "
        "AND timestamp < %s AND meter_id = ANY(%s::bigint[])"
    )
    statements: list[tuple[str, list[Any], dict[int, int]]] = []
    for members in ([shared] if shared else []) + [[one] for one in alone]:
        selects: list[str] = []
        params: list[Any] = []
        column_of: dict[int, int] = {}
        for index, (aggregation, meter_ids) in enumerate(members):
            aggregate = aggregation.sql(_only(meter_ids) if len(members) > 1 else SqlColumns())
            selects.append(aggregate.sql)
            params.extend(aggregate.params)
            for pk in meter_ids:
                column_of[pk] = 3 + index
        statements.append(
            (
                f"SELECT partner_id, client_id, meter_id, {', '.join(selects)} {where} "
                "GROUP BY partner_id, client_id, meter_id",
                [*params, list(partner_ids), bounds.starts_at, bounds.ends_at, sorted(column_of)],
                column_of,
            )
        )
    if distinct:
        params = []
        if len(distinct) == 1:
            value = distinct[0][0].distinct_values()
            expression = value.sql
            params.extend(value.params)
        else:
            cases = []
            for aggregation, meter_ids in distinct:
                value = aggregation.distinct_values(_only(meter_ids))
                cases.append(f"WHEN meter_id IN ({_ids(meter_ids)}) THEN {value.sql}")
                params.extend(value.params)
            expression = f"CASE {' '.join(cases)} END"
        meter_ids = sorted(pk for _, ids in distinct for pk in ids)
        statements.append(
            (
                "SELECT partner_id, client_id, meter_id, COUNT(value) FROM ("
                f"SELECT partner_id, client_id, meter_id, {expression} AS value {where} "
                "GROUP BY partner_id, client_id, meter_id, value) AS x "
                "GROUP BY partner_id, client_id, meter_id",
                [*params, list(partner_ids), bounds.starts_at, bounds.ends_at, meter_ids],
                dict.fromkeys(meter_ids, 3),
            )
        )
    with connection.cursor() as cursor:
        for sql, params, column_of in statements:
            cursor.execute(sql, params)
            for row in cursor.fetchall():
                quantity = row[column_of[row[2]]]
                result[(row[0], row[1], row[2])] = (
                    quantity if type(quantity) is Decimal else Decimal(quantity)
                )
    return result


def _ids(meter_ids: Iterable[int]) -> str:
    return ", ".join(str(int(pk)) for pk in sorted(meter_ids))


def _only(meter_ids: Iterable[int]) -> SqlColumns:
    """The event's columns as seen by the aggregate of these meters only (NULL for others)."""
    only = _ids(meter_ids)
    return SqlColumns(
        **{
            field: f"(CASE WHEN meter_id IN ({only}) THEN {column} END)"
            for field, column in _COLUMNS.items()
        }
    )


@dataclass(slots=True)
class _Sub:
    client_id: int
    partner_id: int
    client_name: str
    plan_id: int
    started_on: datetime.date
    ended_on: datetime.date | None
    changes: list[QuantityChange]


def _billable_subscriptions(
    partner_ids: Sequence[int], bounds: PeriodBounds, client_id: int | None
) -> list[_Sub]:
    """The subscriptions billed in the period (clients not on trial or NFR), in id order, with
    their seat changes in recorded order. Plain SQL: a chunk reads tens of thousands of rows."""
    first, last = bounds.month, bounds.last_day
    sql = (
        "SELECT s.id, s.client_id, c.partner_id, c.name, s.price_plan_id, s.started_on, "
        f"s.ended_on, c.ended_on, c.status FROM {Subscription._meta.db_table} s "
        f"JOIN {Client._meta.db_table} c ON c.id = s.client_id "
        "WHERE c.partner_id = ANY(%s::bigint[]) AND s.started_on <= %s "
        "AND (s.ended_on IS NULL OR s.ended_on >= %s) AND NOT (c.status = ANY(%s::text[]))"
    )
    params: list[Any] = [list(partner_ids), last, first, [str(s) for s in NOT_BILLED]]
    if client_id is not None:
        sql += " AND s.client_id = %s"
        params.append(client_id)
    with connection.cursor() as cursor:
        cursor.execute(sql + " ORDER BY s.id", params)
        rows = cursor.fetchall()
        changes: dict[int, list[QuantityChange]] = defaultdict(list)
        if rows:
            cursor.execute(
                "SELECT subscription_id, effective_on, quantity "
                f"FROM {SeatQuantityChange._meta.db_table} "
                "WHERE subscription_id = ANY(%s::bigint[]) ORDER BY subscription_id, id",
                [[row[0] for row in rows]],
            )
            for sub_id, effective_on, quantity in cursor.fetchall():
                changes[sub_id].append(QuantityChange(effective_on, quantity))
    result = []
    for sub_id, client, partner, name, plan, started, ended, client_ended, status in rows:
        # A churned client is billed to its end date, whatever its subscriptions say.
        if status == ClientStatus.CHURNED and client_ended is not None:
            ended = client_ended if ended is None else min(ended, client_ended)
            if ended < started or ended < first:
                continue
        result.append(_Sub(client, partner, name, plan, started, ended, changes[sub_id]))
    return result


def plain(value: Decimal) -> str:
    """A decimal without exponent or trailing zeros ("0.1", "10"): exact tier figures as text."""
    return f"{value.normalize():f}"


def _tiers_json(breakdown: Sequence[TierAmount]) -> tuple[dict[str, Any], ...]:
    return tuple(
        {
            "from": tier.from_units,
            "up_to": tier.up_to,
            "units": plain(tier.units),
            "unit_price": plain(tier.unit_price),
            "flat_fee": plain(tier.flat_fee),
            "amount": plain(tier.amount),
        }
        for tier in breakdown
    )


def _description(charge: Charge, meters: dict[int, Meter], plan: PricePlan) -> str:
    if charge.seats:
        return f"{plan.name}: seats ({charge.get_counting_rule_display().lower()})"
    meter = meters[charge.meter_id]
    return f"{plan.name}: {meter.name} ({meter.unit})"


@dataclass(slots=True)
class _PartnerInfo:
    name: str
    email: str
    address: str
    country: str
    tax_rate: Decimal
    discount_pct: Decimal
    tier_name: str


def partner_infos(partner_ids: Sequence[int]) -> dict[int, _PartnerInfo]:
    return {
        row[0]: _PartnerInfo(
            name=row[1],
            email=row[2],
            address=row[3],
            country=row[4],
            tax_rate=row[5],
            discount_pct=row[6] if row[6] is not None else Decimal(0),
            tier_name=row[7] or "",
        )
        for row in Partner.objects.filter(pk__in=partner_ids).values_list(
            "pk",
            "name",
            "billing_email",
            "billing_address",
            "country",
            "tax_rate",
            "tier__wholesale_discount_pct",
            "tier__name",
        )
    }


@dataclass(slots=True)
class RatingInputs:
    """What rating reads from the database for some partners: their billable subscriptions and
    their usage aggregated over the period. Read once for a chunk, then rated in parts."""

    subscriptions: list[_Sub]
    usage: dict[tuple[int, int, int], Decimal]

    def of(self, partner_ids: Iterable[int]) -> RatingInputs:
        """The inputs of some of these partners (their subscriptions in the same order)."""
        wanted = set(partner_ids)
        return RatingInputs([s for s in self.subscriptions if s.partner_id in wanted], self.usage)

    def client_names(self) -> dict[int, str]:
        return {sub.client_id: sub.client_name for sub in self.subscriptions}


def rating_inputs(
    partner_ids: Sequence[int],
    bounds: PeriodBounds,
    catalog: Catalog,
    *,
    client_id: int | None = None,
) -> RatingInputs:
    subs = _billable_subscriptions(partner_ids, bounds, client_id)
    meters_used = {
        info.meter_id
        for plan_id in {sub.plan_id for sub in subs}
        for info in catalog.charges(plan_id, bounds.month)
        if info.meter_id is not None
    }
    usage = aggregate_usage(
        partner_ids if client_id is None else sorted({s.partner_id for s in subs}),
        bounds,
        [catalog.meters[m] for m in sorted(meters_used)],
    )
    return RatingInputs(subs, usage)


class _Memo:
    """Pure results worth remembering while rating many clients: seat counts and prices are
    functions of their inputs alone, and most clients share a handful of seat patterns."""

    def __init__(self) -> None:
        self.seats: dict[tuple, Decimal] = {}
        self.prices: dict[tuple[int, Decimal], PricedQuantity] = {}
        self.tiers: dict[tuple[TierAmount, ...], tuple[dict[str, Any], ...]] = {(): ()}
        self.lines: dict[int, dict[Decimal, tuple]] = {}

    def count_seats(self, rule: str, sub: _Sub, month: BillingMonth) -> Decimal:
        key = (rule, sub.started_on, sub.ended_on, tuple(sub.changes))
        seats = self.seats.get(key)
        if seats is None:
            seats = count_seats(
                rule, SeatSubscription(sub.started_on, sub.ended_on, tuple(sub.changes)), month
            )
            self.seats[key] = seats
        return seats

    def price(self, info: ChargeInfo, quantity: Decimal) -> PricedQuantity:
        # Equal quantities (5 and 5.000) price alike: the amount and effective unit price are
        # rounded to fixed places, tier figures are shown normalized (`plain`), and the line
        # keeps its own quantity.
        key = (info.pk, quantity)
        priced = self.prices.get(key)
        if priced is None:
            priced = price(quantity, info.spec)
            self.prices[key] = priced
        return priced

    def priced_lines(self, charge_id: int) -> dict[Decimal, tuple]:
        """{quantity: (amount, effective unit price, tiers as JSON)} of one charge priced per
        client, filled by `rate_lines` (the figures a line takes from `price`)."""
        lines = self.lines.get(charge_id)
        if lines is None:
            lines = self.lines[charge_id] = {}
        return lines

    def tiers_json(self, breakdown: tuple[TierAmount, ...]) -> tuple[dict[str, Any], ...]:
        tiers = self.tiers.get(breakdown)
        if tiers is None:
            tiers = _tiers_json(breakdown)
            self.tiers[breakdown] = tiers
        return tiers


def rate_lines(
    partner_ids: Sequence[int],
    bounds: PeriodBounds,
    catalog: Catalog,
    *,
    client_id: int | None = None,
    inputs: RatingInputs | None = None,
    discounts: Mapping[int, Decimal] | None = None,
) -> dict[int, list[tuple[DraftLine, str]]]:
    """{partner: [(line without discount, currency)]} for the period's own usage and seats.
    Discounts are applied by `assemble`, which knows each partner's tier; given the partners'
    discount percentages (`discounts`), the lines carry them already and `assemble` keeps them
    as they are (the same figures, one object less per line). `inputs` (of these partners) when
    already read."""
    if inputs is None:
        inputs = rating_inputs(partner_ids, bounds, catalog, client_id=client_id)
    usage = inputs.usage
    month = bounds.billing_month
    memo = _Memo()
    # (partner, charge) -> {client: quantity}; meters count a client's usage once per charge,
    # seats add up over the client's subscriptions (one ends, another starts).
    quantities: dict[tuple[int, int], dict[int, Decimal]] = defaultdict(dict)
    charges: dict[int, ChargeInfo] = {}
    plans: dict[int, tuple[ChargeInfo, ...]] = {}
    for sub in inputs.subscriptions:
        infos = plans.get(sub.plan_id)
        if infos is None:
            infos = plans[sub.plan_id] = catalog.charges(sub.plan_id, bounds.month)
        for info in infos:
            charges[info.pk] = info
            per_client = quantities[(sub.partner_id, info.pk)]
            if info.seats:
                seats = memo.count_seats(info.counting_rule, sub, month)
                per_client[sub.client_id] = per_client.get(sub.client_id, ZERO) + seats
            else:
                per_client[sub.client_id] = usage.get(
                    (sub.partner_id, sub.client_id, info.meter_id), ZERO
                )

    result: dict[int, list[tuple[DraftLine, str]]] = defaultdict(list)
    for (partner_id, charge_id), per_client in quantities.items():
        info = charges[charge_id]
        lines = result[partner_id]
        pct = discounts.get(partner_id) if discounts is not None else None
        if info.pooled:
            rating = rate_charge(info.spec, per_client)
            tiers = memo.tiers_json(rating.pooled.tier_breakdown)
            priced = [
                (line.client_id, line.quantity, line.amount, line.unit_price_effective, tiers)
                for line in rating.clients
            ]
        else:
            # rate_charge's per-client branch (each client priced on its own), with the prices
            # of quantities seen before remembered.
            priced = []
            known = memo.priced_lines(charge_id)
            for client in sorted(per_client):
                quantity = per_client[client]
                figures = known.get(quantity)
                if figures is None:
                    one = memo.price(info, quantity)
                    figures = known[quantity] = (
                        one.amount,
                        one.unit_price_effective,
                        memo.tiers_json(one.tier_breakdown),
                    )
                priced.append((client, quantity, *figures))
        for client, quantity, amount, unit_price, tiers in priced:
            if not quantity and not amount:
                continue
            if pct is None:
                discount, net = ZERO, amount
            else:
                discount, net = _line_totals(amount, pct, info.currency)
            lines.append(
                (
                    DraftLine(
                        client,
                        info.pk,
                        info.meter_id,
                        info.seats,
                        info.plan_code,
                        info.description,
                        quantity,
                        unit_price,
                        amount,
                        discount,
                        net,
                        info.pooled,
                        tiers,
                    ),
                    info.currency,
                )
            )
    return result


def _line_totals(amount: Decimal, pct: Decimal, currency: str) -> LineTotals:
    """line_totals, remembered: lines repeat amounts. Keyed by the amount's text, which keeps
    5 and 5.00 apart (they compare and hash alike) and is cheaper than its exponent. Shared by
    `rate_lines` and `assemble`, so a line rated with its discount holds the very objects
    `assemble` would give it."""
    return _line_totals_of(str(amount), pct, currency)


@functools.lru_cache(maxsize=8192)
def _line_totals_of(amount: str, pct: Decimal, currency: str) -> LineTotals:
    return line_totals(Decimal(amount), pct, currency)


def _same(a: Decimal, b: Decimal) -> bool:
    return a is b or a.as_tuple() == b.as_tuple()


def line_sort_key(line: DraftLine, names: dict[int, str], positions: dict[int, tuple]) -> tuple:
    return (
        line.adjustment_of is not None,
        line.adjustment_of or datetime.date.min,
        names.get(line.client_id, ""),
        line.client_id,
        positions.get(line.charge_id, (line.price_plan_code, 0)),
    )


def assemble(
    partner_lines: dict[int, list[tuple[DraftLine, str]]],
    infos: dict[int, _PartnerInfo],
    catalog: Catalog,
    *,
    client_names: dict[int, str] | None = None,
) -> dict[int, list[DraftInvoice]]:
    """Discount per line, invoices per currency with PRODUCT.md's totals, lines in a stable order
    (regular lines by client name then charge; prior-period adjustments after them).
    `client_names`: names already known (the others are read)."""
    names = dict(client_names or {})
    missing = {
        line.client_id
        for lines in partner_lines.values()
        for line, _ in lines
        if line.client_id not in names
    }
    if missing:
        names.update(Client.objects.filter(pk__in=missing).values_list("pk", "name"))
    positions = catalog.positions()
    invoices: dict[int, list[DraftInvoice]] = {}
    for partner_id, lines in partner_lines.items():
        info = infos[partner_id]
        pct = info.discount_pct
        by_currency: dict[str, list[DraftLine]] = defaultdict(list)
        for line, currency in lines:
            amount = line.amount
            totals = _line_totals(amount, pct, currency)
            if _same(line.discount, totals.discount) and _same(line.net_amount, totals.net):
                by_currency[currency].append(line)  # rated with this discount already
                continue
            by_currency[currency].append(
                DraftLine(
                    line.client_id,
                    line.charge_id,
                    line.meter_id,
                    line.seats,
                    line.price_plan_code,
                    line.description,
                    line.quantity,
                    line.unit_price,
                    amount,
                    totals.discount,
                    totals.net,
                    line.pooled,
                    line.tiers,
                    line.adjustment_of,
                )
            )
        drafts = []
        for currency in sorted(by_currency):
            ordered = sorted(
                by_currency[currency], key=lambda ln: line_sort_key(ln, names, positions)
            )
            # invoice_totals of the lines' sums: the same figures (sums of amounts rounded to the
            # minor unit are exact), without checking each line's rounding again — line_totals
            # checked every distinct amount above, and each discount is percent_of's rounding.
            totals = invoice_totals(
                [
                    (
                        sum((ln.amount for ln in ordered), ZERO),
                        sum((ln.discount for ln in ordered), ZERO),
                    )
                ],
                info.tax_rate,
                currency,
            )
            drafts.append(
                DraftInvoice(
                    partner_id=partner_id,
                    currency=currency,
                    lines=tuple(ordered),
                    subtotal=totals.subtotal,
                    discount=totals.discount,
                    tax=totals.tax,
                    total=totals.total,
                    discount_pct=info.discount_pct,
                    tax_rate=info.tax_rate,
                    tier_name=info.tier_name,
                    bill_to_name=info.name,
                    bill_to_email=info.email,
                    bill_to_address=info.address,
                    bill_to_country=info.country,
                )
            )
        invoices[partner_id] = drafts
    return invoices
