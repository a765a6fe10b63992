"""What a period's invoices should be for some partners: read in bulk, aggregate in SQL, price in
Python. Nothing here writes; the month-end close writes the result (`write.py`) and the running
estimate shows it as is.

For a chunk of partners: one query for the partners, one for their billable subscriptions, one for
the seat changes, one aggregate query per kind of meter aggregation (GROUP BY partner, client,
meter over the period — the index `billing_usage_rating_idx` serves it), then pure pricing
(`billing.rating`): each charge of the price-plan version in effect that month, per client or
pooled over the partner's clients; the partner tier's discount per line; tax on the invoice.
"""

from __future__ import annotations

import datetime
import zoneinfo
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import connection
from django.db.models import Q

from billing.closing.drafts import DraftInvoice, DraftLine
from billing.models import Charge, Meter, PricePlan, SeatQuantityChange, Subscription, UsageEvent
from billing.rating.aggregations import aggregation_for
from billing.rating.pooling import rate_charge
from billing.rating.seats import BillingMonth, QuantityChange, SeatSubscription, count_seats
from billing.rating.types import ChargeSpec, Tier, TierAmount
from billing.selectors import price_plans_with_versions, version_in_effect
from core.money import invoice_totals, line_totals
from partners.enums import ClientStatus
from partners.models import Client, Partner

NOT_BILLED = (ClientStatus.TRIAL, ClientStatus.NFR)


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


def vendor_timezone() -> zoneinfo.ZoneInfo:
    name = getattr(connection.tenant, "timezone", None) or "UTC"
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


class Catalog:
    """Every price plan with its versions, charges, meters and tiers, loaded once (a constant
    number of queries) and shared by all the chunks a worker rates; ChargeSpecs cached."""

    def __init__(self) -> None:
        self.plans: dict[int, PricePlan] = {plan.pk: plan for plan in price_plans_with_versions()}
        self.meters: dict[int, Meter] = {meter.pk: meter for meter in Meter.objects.all()}
        self._specs: dict[int, ChargeSpec] = {}
        self._versions: dict[tuple[int, datetime.date], Any] = {}

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


def aggregate_usage(
    partner_ids: Sequence[int], bounds: PeriodBounds, meters: Iterable[Meter]
) -> dict[tuple[int, int, int], Decimal]:
    """{(partner, client, meter): quantity} over the period, each meter by its own aggregation:
    one GROUP BY query per (aggregation, property) in use."""
    groups: dict[tuple[str, str], list[int]] = defaultdict(list)
    for meter in meters:
        groups[(meter.aggregation, meter.unique_property)].append(meter.pk)
    result: dict[tuple[int, int, int], Decimal] = {}
    if not partner_ids:
        return result
    table = UsageEvent._meta.db_table
    with connection.cursor() as cursor:
        for (kind, unique_property), meter_ids in sorted(groups.items()):
            aggregate = aggregation_for(kind, unique_property or None).sql()
            cursor.execute(
                f"SELECT partner_id, client_id, meter_id, {aggregate.sql} FROM {table} "
                "WHERE partner_id = ANY(%s) AND timestamp >= %s AND timestamp < %s "
                "AND meter_id = ANY(%s) GROUP BY partner_id, client_id, meter_id",
                [*aggregate.params, list(partner_ids), bounds.starts_at, bounds.ends_at, meter_ids],
            )
            for partner_id, client_id, meter_id, quantity in cursor.fetchall():
                result[(partner_id, client_id, meter_id)] = Decimal(quantity)
    return result


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
    first, last = bounds.month, bounds.last_day
    subs = Subscription.objects.filter(
        client__partner_id__in=partner_ids, started_on__lte=last
    ).filter(Q(ended_on__isnull=True) | Q(ended_on__gte=first))
    subs = subs.exclude(client__status__in=NOT_BILLED)
    if client_id is not None:
        subs = subs.filter(client_id=client_id)
    rows = list(
        subs.order_by("id").values_list(
            "id",
            "client_id",
            "client__partner_id",
            "client__name",
            "price_plan_id",
            "started_on",
            "ended_on",
            "client__ended_on",
            "client__status",
        )
    )
    changes: dict[int, list[QuantityChange]] = defaultdict(list)
    if rows:
        for sub_id, effective_on, quantity in (
            SeatQuantityChange.objects.filter(subscription_id__in=[row[0] for row in rows])
            .order_by("subscription_id", "id")
            .values_list("subscription_id", "effective_on", "quantity")
        ):
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


def rate_lines(
    partner_ids: Sequence[int],
    bounds: PeriodBounds,
    catalog: Catalog,
    *,
    client_id: int | None = None,
) -> dict[int, list[tuple[DraftLine, str]]]:
    """{partner: [(line without discount, currency)]} for the period's own usage and seats.
    Discounts are applied by `assemble`, which knows each partner's tier."""
    subs = _billable_subscriptions(partner_ids, bounds, client_id)
    meters_used = {
        charge.meter_id
        for sub in subs
        if (version := catalog.version(sub.plan_id, bounds.month)) is not None
        for charge in version.charges.all()
        if charge.meter_id is not None
    }
    usage = aggregate_usage(
        partner_ids if client_id is None else list({s.partner_id for s in subs}),
        bounds,
        [catalog.meters[m] for m in meters_used],
    )
    month = bounds.billing_month
    # (partner, charge) -> {client: quantity}; meters count a client's usage once per charge,
    # seats add up over the client's subscriptions (one ends, another starts).
    quantities: dict[tuple[int, int], dict[int, Decimal]] = defaultdict(dict)
    charges: dict[int, tuple[Charge, PricePlan]] = {}
    for sub in subs:
        version = catalog.version(sub.plan_id, bounds.month)
        if version is None:
            continue
        plan = catalog.plans[sub.plan_id]
        for charge in version.charges.all():
            charges[charge.pk] = (charge, plan)
            per_client = quantities[(sub.partner_id, charge.pk)]
            if charge.seats:
                seats = count_seats(
                    charge.counting_rule,
                    SeatSubscription(sub.started_on, sub.ended_on, tuple(sub.changes)),
                    month,
                )
                per_client[sub.client_id] = per_client.get(sub.client_id, Decimal(0)) + seats
            else:
                per_client[sub.client_id] = usage.get(
                    (sub.partner_id, sub.client_id, charge.meter_id), Decimal(0)
                )

    result: dict[int, list[tuple[DraftLine, str]]] = defaultdict(list)
    for (partner_id, charge_id), per_client in quantities.items():
        charge, plan = charges[charge_id]
        spec = catalog.spec(charge, plan.currency)
        rating = rate_charge(spec, per_client)
        pooled_tiers = _tiers_json(rating.pooled.tier_breakdown) if rating.pooled else ()
        description = _description(charge, catalog.meters, plan)
        for line in rating.clients:
            if not line.quantity and not line.amount:
                continue
            result[partner_id].append(
                (
                    DraftLine(
                        client_id=line.client_id,
                        charge_id=charge.pk,
                        meter_id=charge.meter_id,
                        seats=charge.seats,
                        price_plan_code=plan.code,
                        description=description,
                        quantity=line.quantity,
                        unit_price=line.unit_price_effective,
                        amount=line.amount,
                        discount=Decimal(0),
                        net_amount=line.amount,
                        pooled=charge.pooled,
                        tiers=pooled_tiers or _tiers_json(line.tier_breakdown),
                    ),
                    plan.currency,
                )
            )
    return result


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
) -> dict[int, list[DraftInvoice]]:
    """Discount per line, invoices per currency with PRODUCT.md's totals, lines in a stable order
    (regular lines by client name then charge; prior-period adjustments after them)."""
    client_ids = {line.client_id for lines in partner_lines.values() for line, _ in lines}
    client_names = dict(Client.objects.filter(pk__in=client_ids).values_list("pk", "name"))
    positions: dict[int, tuple] = {}
    for plan in catalog.plans.values():
        for version in plan.versions.all():
            for charge in version.charges.all():
                positions[charge.pk] = (plan.code, charge.position)
    invoices: dict[int, list[DraftInvoice]] = {}
    for partner_id, lines in partner_lines.items():
        info = infos[partner_id]
        by_currency: dict[str, list[DraftLine]] = defaultdict(list)
        for line, currency in lines:
            totals = line_totals(line.amount, info.discount_pct, currency)
            by_currency[currency].append(
                DraftLine(
                    **{
                        **{f: getattr(line, f) for f in DraftLine.__slots__},
                        "discount": totals.discount,
                        "net_amount": totals.net,
                    }
                )
            )
        drafts = []
        for currency in sorted(by_currency):
            ordered = sorted(
                by_currency[currency], key=lambda ln: line_sort_key(ln, client_names, positions)
            )
            totals = invoice_totals(
                ((ln.amount, ln.discount) for ln in ordered), info.tax_rate, currency
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
