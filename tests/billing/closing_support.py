"""Shared set-up for month-end close tests: a small priced world with hand-computable invoices,
and helpers that run a close's chunks in the test's own transaction."""

from __future__ import annotations

import datetime
from decimal import Decimal

from billing.ingest import ingest_batch
from billing.models import BillingPeriod, Invoice, InvoiceLine, RatingChunk
from billing.services.catalog import meter_create, price_plan_create
from billing.services.periods import period_close, period_rate_chunk
from billing.services.subscriptions import subscription_change_quantity, subscription_create
from core.actors import Actor
from partners.enums import ClientStatus
from tests.factories import ClientFactory, PartnerFactory, TierFactory

ACTOR = Actor.system("close tests")
D = datetime.date
UTC = datetime.UTC


def at(*args: int) -> datetime.datetime:
    return datetime.datetime(*args, tzinfo=UTC)


def build_world() -> dict:
    """Partner Alpha IT (EUR, tax 19 %, tier discount 10 %) with clients Alpha Clinic and Beta
    Bakery (billed) and Cedar Trial (trial: never billed), on plan "backup":
    seats per_unit 3.00 (daily average), storage GB graduated and pooled (≤100 at 0.10, then
    0.05), devices per_unit 1.50 (distinct device_id)."""
    tier = TierFactory(name="Gold", wholesale_discount_pct=Decimal("10"))
    partner = PartnerFactory(
        name="Alpha IT", currency="EUR", tax_rate=Decimal("19"), tier=tier, track=tier.track
    )
    storage = meter_create(
        code="storage", name="Backup storage", unit="GB", aggregation="sum", actor=ACTOR
    )
    devices = meter_create(
        code="devices",
        name="Protected devices",
        unit="device",
        aggregation="unique_count",
        unique_property="device_id",
        actor=ACTOR,
    )
    plan = price_plan_create(
        code="backup",
        name="Backup",
        currency="EUR",
        effective_from=D(2026, 1, 1),
        actor=ACTOR,
        charges=[
            {"seats": True, "model": "per_unit", "unit_price": "3.00", "counting_rule": "average"},
            {
                "meter": "storage",
                "model": "graduated",
                "pooled": True,
                "tiers": [
                    {"up_to": 100, "unit_price": "0.10", "flat_fee": "0"},
                    {"up_to": None, "unit_price": "0.05", "flat_fee": "0"},
                ],
            },
            {"meter": "devices", "model": "per_unit", "unit_price": "1.50"},
        ],
    )
    alpha = ClientFactory(partner=partner, name="Alpha Clinic", external_id="alpha")
    beta = ClientFactory(partner=partner, name="Beta Bakery", external_id="beta")
    cedar = ClientFactory(
        partner=partner, name="Cedar Trial", external_id="cedar", status=ClientStatus.TRIAL
    )
    sub_a = subscription_create(
        client=alpha, price_plan=plan, quantity=10, started_on=D(2026, 9, 1), actor=ACTOR
    )
    subscription_change_quantity(
        subscription=sub_a, quantity=20, effective_on=D(2026, 10, 17), actor=ACTOR
    )
    subscription_create(
        client=beta, price_plan=plan, quantity=5, started_on=D(2026, 10, 1), actor=ACTOR
    )
    subscription_create(
        client=cedar, price_plan=plan, quantity=50, started_on=D(2026, 10, 1), actor=ACTOR
    )
    return {
        "partner": partner,
        "plan": plan,
        "alpha": alpha,
        "beta": beta,
        "cedar": cedar,
        "storage": storage,
        "devices": devices,
    }


def event(event_id: str, client: str, meter: str, quantity: str, when: str, **properties):
    return {
        "event_id": event_id,
        "client": client,
        "partner": "Alpha IT partner",  # replaced by the partner id in `report`
        "meter": meter,
        "quantity": quantity,
        "timestamp": when,
        "properties": properties,
    }


def report(world: dict, *events: dict) -> dict:
    items = [{**e, "partner": world["partner"].pk} for e in events]
    return ingest_batch(items, caller_partner_id=None).as_dict()


def october_usage(world: dict) -> None:
    result = report(
        world,
        event("s1", "alpha", "storage", "50", "2026-10-03T10:00:00Z"),
        event("s2", "alpha", "storage", "30", "2026-10-31T23:59:59+01:00"),
        event("s3", "beta", "storage", "60", "2026-10-15T08:00:00Z"),
        # Outside October in the vendor's timezone (Europe/Berlin): the last second of
        # September and the first of November.
        event("s4", "alpha", "storage", "1000", "2026-09-30T23:59:59+02:00"),
        event("s5", "beta", "storage", "1000", "2026-10-31T23:00:00Z"),
        event("d1", "alpha", "devices", "1", "2026-10-05T00:00:00Z", device_id="laptop-1"),
        event("d2", "alpha", "devices", "1", "2026-10-06T00:00:00Z", device_id="laptop-2"),
        event("d3", "alpha", "devices", "1", "2026-10-07T00:00:00Z", device_id="laptop-1"),
        # A trial client's usage is never billed.
        event("c1", "cedar", "storage", "500", "2026-10-07T00:00:00Z"),
    )
    assert result == {"accepted": 9, "duplicates": 0, "rejected": []}


def run_chunks(period: BillingPeriod) -> list[str]:
    """What the Celery tasks do, in this transaction: each chunk of the current run."""
    period.refresh_from_db()
    ids = RatingChunk.objects.filter(period=period, run=period.run).values_list("pk", flat=True)
    return [period_rate_chunk(chunk_id=pk) for pk in sorted(ids)]


def close(month: datetime.date, now: datetime.datetime) -> BillingPeriod:
    period = period_close(month=month, actor=ACTOR, now=now)
    run_chunks(period)
    period.refresh_from_db()
    return period


def invoice_rows(period: BillingPeriod) -> list[tuple]:
    """The period's invoices and lines as comparable values (no ids, no timestamps)."""
    rows = []
    for invoice in Invoice.objects.filter(period=period).order_by("partner_id", "currency"):
        rows.append(
            (
                invoice.partner_id,
                invoice.currency,
                invoice.status,
                invoice.subtotal,
                invoice.discount,
                invoice.tax,
                invoice.total,
                tuple(
                    InvoiceLine.objects.filter(invoice=invoice)
                    .order_by("position")
                    .values_list(
                        "position",
                        "client_id",
                        "charge_id",
                        "description",
                        "quantity",
                        "unit_price",
                        "amount",
                        "discount",
                        "net_amount",
                        "tiers",
                        "adjustment_of",
                    )
                ),
            )
        )
    return rows
