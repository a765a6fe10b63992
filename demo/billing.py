"""The demo vendor's billing: a catalog of two products with 3 meters and 2 price plans,
subscriptions on the clients of its active and suspended partners, three months of usage (the two
months before the current one and the current month to date), the two past months closed and
finalized (numbered invoices, MRR recorded), and one late usage event for last month so that the
open month's running estimate shows a prior-period adjustment.

Everything goes through the billing services (catalog, subscriptions, the month-end close run
chunk by chunk in-process, `ingest_batch` for the late event), so the audit log, invoices and MRR
look exactly as in production. The history of usage (~65,000 events) is written with one COPY,
the same rows ingest writes, about 5x faster than `ingest_batch` in batches of 1,000 (measured
on 50,000 events). The data is relative to today in the vendor's timezone and deterministic for
a given day (a fixed random seed). Skipped when the vendor already has a billing catalog.

Runs in the vendor's tenant context (`tenant_context`, not `schema_context`): periods and usage
days are the vendor's calendar days, which the close reads from `connection.tenant.timezone`.
"""

from __future__ import annotations

import datetime
import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal

import orjson
from django.db import connection, transaction
from django.utils import timezone

from billing.closing.rate import (
    NOT_BILLED,
    Catalog,
    next_month,
    previous_month,
    vendor_timezone,
)
from billing.ingest import MAX_BATCH, ingest_batch, unique_values_fill
from billing.models import BillingPeriod, Meter, PricePlan, RatingChunk, Subscription, UsageEvent
from billing.models_invoicing import PeriodStatus
from billing.services.catalog import meter_create, price_plan_create, product_create
from billing.services.periods import period_close, period_finalize, period_rate_chunk
from billing.services.subscriptions import subscription_change_quantity, subscription_create
from core.actors import Actor
from partners.enums import ClientStatus, PartnerStatus
from partners.models import Client, Partner

from .incentives import (
    demo_after_finalize,
    demo_incentives_setup,
    demo_resale_prices_ensure,
)
from .program import NORTHWIND

SEED = 20261126  # fixed: the demo's usage looks the same on every machine (for the same day)
BILLED_PARTNER_STATES = (PartnerStatus.ACTIVE, PartnerStatus.SUSPENDED)

ENDPOINT_PLAN = "endpoint-protection"
BACKUP_PLAN = "backup-recovery"
STORAGE, ENDPOINTS, API_CALLS = "storage_gb", "endpoints", "api_calls"


@dataclass
class _ClientPlan:
    """One subscribed client and the shape of its usage (drawn once, in a fixed order)."""

    client: Client
    partner_id: int
    users: int
    devices: int
    backup_from: datetime.date | None
    storage_gb: Decimal = Decimal(0)
    storage_growth: float = 0.0
    api_per_day: int = 0
    endpoint_sub: Subscription | None = None
    backup_sub: Subscription | None = None
    # Extra devices per month (index 0, 1, 2): fleets grow and shrink a little.
    device_drift: list[int] = field(default_factory=list)


def _catalog(actor: Actor, first_month: datetime.date) -> dict[str, PricePlan]:
    endpoint = product_create(
        code="acme-endpoint",
        name="Acme Endpoint Protection",
        description="Next-generation antivirus and EDR for the MSP's managed devices.",
        actor=actor,
    )
    backup = product_create(
        code="acme-backup",
        name="Acme Backup & Recovery",
        description="Image and file backup to the Acme cloud, with restore and API access.",
        actor=actor,
    )
    meter_create(
        code=STORAGE,
        name="Backup storage",
        unit="GB",
        # Clients report their stored GB daily; the month bills its peak.
        aggregation="max",
        product=backup,
        actor=actor,
    )
    meter_create(
        code=ENDPOINTS,
        name="Protected endpoints",
        unit="endpoint",
        aggregation="unique_count",
        unique_property="device_id",
        product=endpoint,
        actor=actor,
    )
    meter_create(
        code=API_CALLS,
        name="Backup API requests",
        unit="request",
        aggregation="sum",
        product=backup,
        actor=actor,
    )
    endpoint_plan = price_plan_create(
        code=ENDPOINT_PLAN,
        name="Endpoint Protection",
        currency="EUR",
        effective_from=first_month,
        product=endpoint,
        actor=actor,
        charges=[
            # Licensed users, by the month's daily average.
            {"seats": True, "model": "per_unit", "unit_price": "2.90", "counting_rule": "average"},
            # Devices seen, priced in tiers counted over all of the MSP's clients.
            {
                "meter": ENDPOINTS,
                "model": "graduated",
                "pooled": True,
                "tiers": [
                    {"up_to": 250, "unit_price": "2.40", "flat_fee": "0"},
                    {"up_to": 1000, "unit_price": "1.95", "flat_fee": "0"},
                    {"up_to": None, "unit_price": "1.60", "flat_fee": "0"},
                ],
            },
        ],
    )
    backup_plan = price_plan_create(
        code=BACKUP_PLAN,
        name="Backup & Recovery",
        currency="EUR",
        effective_from=first_month,
        product=backup,
        actor=actor,
        charges=[
            # A platform fee per subscribed client and month.
            {"seats": True, "model": "flat", "flat_fee": "12.00", "counting_rule": "snapshot"},
            # Storage per client: all of a client's GB at the price of the tier it reaches.
            {
                "meter": STORAGE,
                "model": "volume",
                "tiers": [
                    {"up_to": 500, "unit_price": "0.090", "flat_fee": "0"},
                    {"up_to": 2000, "unit_price": "0.070", "flat_fee": "0"},
                    {"up_to": None, "unit_price": "0.055", "flat_fee": "0"},
                ],
            },
            {
                "meter": API_CALLS,
                "model": "package",
                "package_size": 10000,
                "package_price": "2.50",
            },
        ],
    )
    return {ENDPOINT_PLAN: endpoint_plan, BACKUP_PLAN: backup_plan}


def _month_days(month: datetime.date, until: datetime.date) -> list[datetime.date]:
    last = min(next_month(month) - datetime.timedelta(days=1), until)
    return [month + datetime.timedelta(days=n) for n in range((last - month).days + 1)]


def _subscribe(
    plans: dict[str, PricePlan],
    months: list[datetime.date],
    today: datetime.date,
    rng: random.Random,
    actor: Actor,
) -> list[_ClientPlan]:
    """Every client of an active or suspended partner that has started and not churned gets
    Endpoint Protection; about half also get Backup & Recovery (some only from a later month).
    Trial and not-for-resale clients are subscribed too: they are simply never billed."""
    first = months[0]
    clients = (
        Client.objects.filter(partner__status__in=BILLED_PARTNER_STATES, started_on__lte=today)
        .exclude(status=ClientStatus.CHURNED)
        .order_by("partner_id", "external_id")
    )
    result = []
    for client in clients:
        users = rng.choice([3, 5, 8, 10, 12, 15, 20, 25, 30, 40, 60])
        devices = max(2, round(users * rng.uniform(0.8, 1.4)))
        start = max(client.started_on, first)
        backup_from = None
        if rng.random() < 0.45:
            later = rng.random()
            if later < 0.12:  # started backup last month or this month
                month = months[1] if later < 0.08 else months[2]
                backup_from = max(start, month + datetime.timedelta(days=rng.randrange(0, 20)))
                backup_from = min(backup_from, today)
            else:
                backup_from = start
        plan = _ClientPlan(
            client=client,
            partner_id=client.partner_id,
            users=users,
            devices=devices,
            backup_from=backup_from,
            storage_gb=Decimal(rng.choice([40, 80, 150, 300, 450, 700, 1200, 2500])),
            storage_growth=rng.uniform(-0.02, 0.12),
            api_per_day=rng.choice([150, 300, 600, 1200, 2500]),
            device_drift=[0, rng.randrange(-1, 3), rng.randrange(-1, 4)],
        )
        plan.endpoint_sub = subscription_create(
            client=client,
            price_plan=plans[ENDPOINT_PLAN],
            quantity=users,
            started_on=start,
            actor=actor,
        )
        if backup_from is not None:
            plan.backup_sub = subscription_create(
                client=client,
                price_plan=plans[BACKUP_PLAN],
                quantity=1,  # one platform fee: the plan's seat charge is flat
                started_on=backup_from,
                actor=actor,
            )
        result.append(plan)

    # A few seat changes part-way through a month: clients hire, clients let people go.
    for month in months:
        for plan in result:
            if rng.random() >= 0.04:
                continue
            sub = plan.endpoint_sub
            days = [d for d in _month_days(month, today) if d > sub.started_on]
            if not days:
                continue
            quantity = max(1, sub.quantity + rng.choice([-3, -2, -1, 2, 3, 5, 8]))
            subscription_change_quantity(
                subscription=sub, quantity=quantity, effective_on=rng.choice(days), actor=actor
            )
    return result


def _stamp(day: datetime.date, minute_of_day: int, tz) -> datetime.datetime:
    local = datetime.datetime.combine(day, datetime.time(), tzinfo=tz)
    return (local + datetime.timedelta(minutes=minute_of_day)).astimezone(datetime.UTC)


@dataclass(frozen=True, slots=True)
class _Event:
    event_id: str
    plan: _ClientPlan
    meter: str
    quantity: Decimal
    timestamp: datetime.datetime
    properties: dict


def _usage(
    plans: list[_ClientPlan],
    months: list[datetime.date],
    today: datetime.date,
    now: datetime.datetime,
    rng: random.Random,
) -> Iterator[_Event]:
    """The usage of all three months up to `now`."""
    tz = vendor_timezone()
    one = Decimal(1)
    cent = Decimal("0.01")
    for index, month in enumerate(months):
        tag = f"{month:%Y%m}"
        month_days = _month_days(month, today)
        for plan in plans:
            client = plan.client
            key = f"{client.partner_id}-{client.external_id}"
            # Endpoints: each device's agent checks in on a day or two of the month.
            days = [d for d in month_days if d >= plan.endpoint_sub.started_on]
            for device in range(plan.devices + plan.device_drift[index] if days else 0):
                device_id = {"device_id": f"{client.external_id}-ep{device:03d}"}
                for check_in in range(2 if rng.random() < 0.15 else 1):
                    when = _stamp(rng.choice(days), rng.randrange(420, 1140), tz)
                    if when < now:
                        event_id = f"demo:{ENDPOINTS}:{key}:{tag}:{device}:{check_in}"
                        yield _Event(event_id, plan, ENDPOINTS, one, when, device_id)
            if plan.backup_from is None:
                continue
            # Backup: the stored GB after each night's run, and the day's API requests.
            for day in month_days:
                if day < plan.backup_from:
                    continue
                age = (day - months[0]).days / 30
                factor = (1 + plan.storage_growth * age) * rng.uniform(0.97, 1.03)
                stored = (plan.storage_gb * Decimal(f"{factor:.4f}")).quantize(cent)
                night = _stamp(day, rng.randrange(60, 300), tz)
                if night < now:
                    event_id = f"demo:{STORAGE}:{key}:{day:%Y%m%d}"
                    yield _Event(event_id, plan, STORAGE, stored, night, {"job": "nightly"})
                calls = Decimal(round(plan.api_per_day * rng.uniform(0.4, 1.6)))
                evening = _stamp(day, 1380 + rng.randrange(0, 50), tz)
                if evening < now:
                    event_id = f"demo:{API_CALLS}:{key}:{day:%Y%m%d}"
                    yield _Event(event_id, plan, API_CALLS, calls, evening, {})


def _as_api_item(event: _Event) -> dict:
    """The event as `POST /api/v1/usage-events/` (and `ingest_batch`) takes it."""
    return {
        "event_id": event.event_id,
        "client": event.plan.client.external_id,
        "partner": event.plan.partner_id,
        "meter": event.meter,
        "quantity": str(event.quantity),
        "timestamp": event.timestamp.isoformat(),
        "properties": event.properties,
    }


def _ingest(events: Iterable[_Event]) -> int:
    """Through the API's ingest path, in batches of its maximum size."""
    accepted = 0
    items = [_as_api_item(event) for event in events]
    for i in range(0, len(items), MAX_BATCH):
        result = ingest_batch(items[i : i + MAX_BATCH], caller_partner_id=None)
        if result.rejected:
            raise RuntimeError(f"Demo usage rejected: {result.rejected[:3]}")
        accepted += result.accepted
    return accepted


def _copy(events: Iterable[_Event]) -> int:
    """The bulk path for the history: COPY into the events table, the same rows `ingest_batch`
    writes. Only for usage of periods not closed yet (ingest's one extra step, noting late usage
    for closed periods, has nothing to do), and only with a catalog created in this transaction
    (its meters are new, so no event can exist yet: no event_id conflicts)."""
    meters = dict(Meter.objects.values_list("code", "pk"))
    written = 0
    with connection.cursor() as cursor:
        raw = cursor.cursor  # psycopg's own cursor: COPY is the fastest bulk write
        columns = "event_id, partner_id, client_id, meter_id, quantity, timestamp, properties"
        with raw.copy(f"COPY {UsageEvent._meta.db_table} ({columns}) FROM STDIN") as copy:
            for event in events:
                copy.write_row(
                    (
                        event.event_id,
                        event.plan.partner_id,
                        event.plan.client.pk,
                        meters[event.meter],
                        event.quantity,
                        event.timestamp,
                        orjson.dumps(event.properties).decode(),
                    )
                )
                written += 1
    unique_values_fill()  # what ingest copies out of unique_count meters' properties
    return written


def _close_and_finalize(
    month: datetime.date, actor: Actor, now: datetime.datetime, catalog: Catalog
) -> None:
    """The month-end close, with its chunks run here (what the Celery task does per chunk).
    `period_close` also queues the chunks on Celery when the seed commits; the worker finds them
    done and skips them."""
    period = period_close(month=month, actor=actor, now=now)
    chunks = RatingChunk.objects.filter(period=period, run=period.run).order_by("index")
    for chunk_id in chunks.values_list("pk", flat=True):
        period_rate_chunk(chunk_id=chunk_id, catalog=catalog)
    period_finalize(month=month, actor=actor, now=now)


def _late_event(plans: list[_ClientPlan], last_month: datetime.date) -> _Event | None:
    """A restore test on a day of last month that Northwind's RMM reports only now: last month
    is finalized, so the open month bills it as a prior-period adjustment."""
    northwind = Partner.objects.get(name=NORTHWIND)
    plan = next(
        (
            p
            for p in plans
            if p.partner_id == northwind.pk
            and p.client.status not in NOT_BILLED
            and p.backup_from is not None
            and p.backup_from < last_month
        ),
        None,
    )
    if plan is None:
        return None
    day = next_month(last_month) - datetime.timedelta(days=2)
    return _Event(
        event_id=f"demo:{API_CALLS}:{northwind.pk}-{plan.client.external_id}:late",
        plan=plan,
        meter=API_CALLS,
        quantity=Decimal(24000),
        timestamp=_stamp(day, 14 * 60, vendor_timezone()),
        properties={"note": "restore test, reported late"},
    )


def demo_billing_ensure(*, actor: Actor, now: datetime.datetime | None = None) -> bool:
    """Create the demo billing when the vendor has no catalog yet. Returns True when it did.
    Call in the vendor's tenant context, after the partner program exists."""
    if Meter.objects.exists() or PricePlan.objects.exists():
        return False
    now = now or timezone.now()
    today = now.astimezone(vendor_timezone()).date()
    current = today.replace(day=1)
    months = [previous_month(previous_month(current)), previous_month(current), current]
    rng = random.Random(SEED)
    with transaction.atomic():
        plans = _catalog(actor, months[0])
        subscribed = _subscribe(plans, months, today, rng, actor)
        events = _usage(subscribed, months, today, now, rng)
        # Beat may have closed (empty) months already; closing again re-rates them. Only a
        # finalized one cannot be: then the usage goes through ingest, which notes it as late.
        finalized = set(
            BillingPeriod.objects.filter(
                month__in=months, status=PeriodStatus.FINALIZED
            ).values_list("month", flat=True)
        )
        if finalized:
            _ingest(events)
        else:
            _copy(events)
        demo_incentives_setup(actor=actor, first_month=months[0])
        demo_resale_prices_ensure(actor=actor, first_month=months[0])
        catalog = Catalog()
        for month in months[:2]:
            if month not in finalized:
                _close_and_finalize(month, actor, now, catalog)
                # The first month's statements are approved and paid out as credits on the
                # second month's invoices; the second month's wait for finance.
                demo_after_finalize(month=month, actor=actor, approve=month == months[0])
        late = _late_event(subscribed, months[1])
        if late is not None:
            _ingest([late])
    return True
