"""Exactly once with real Celery workers: kill the worker in the middle of rating (SIGKILL, as a
machine dies), close again, and the invoices and lines are those of one clean run.

Everything here is committed (the worker only sees committed rows), in a vendor of its own that
is dropped at the end. Rating is slowed by a statement trigger in that vendor's schema (each
chunk's line COPY sleeps), so the kill lands while chunks are still pending; no production code
knows about it.
"""

from __future__ import annotations

import time
from decimal import Decimal

import pytest
from django.db import connection
from django_tenants.utils import schema_context

from billing.closing.rate import previous_month, vendor_today
from billing.ingest import ingest_batch
from billing.models import BillingPeriod, Invoice, RatingChunk
from billing.models_invoicing import PeriodStatus
from billing.services.catalog import meter_create, price_plan_create
from billing.services.periods import period_close
from billing.services.subscriptions import subscription_create
from core.actors import Actor
from partners.models import Partner
from tenancy.models import Domain, Vendor
from tenancy.services import schema_name_for, vendor_create
from tests.billing.closing_support import invoice_rows
from tests.celery_worker import start_worker
from tests.committed import committed
from tests.factories import ClientFactory, PartnerFactory

pytestmark = [pytest.mark.worker, pytest.mark.django_db]

ACTOR = Actor.system("close worker tests")
SLUG = "close-kill"
PARTNERS = 8
WAIT = 60.0


def _seed() -> tuple[str, object]:
    vendor = vendor_create(
        name="Close Kill",
        slug=SLUG,
        domain=f"{SLUG}.localhost",
        timezone="UTC",
        currency="EUR",
        actor=ACTOR,
    )
    with schema_context(vendor.schema_name):
        month = previous_month(vendor_today().replace(day=1))
        meter_create(code="storage", name="Storage", unit="GB", aggregation="sum", actor=ACTOR)
        plan = price_plan_create(
            code="basic",
            name="Basic",
            currency="EUR",
            effective_from=month,
            actor=ACTOR,
            charges=[
                {"seats": True, "model": "per_unit", "unit_price": "2", "counting_rule": "peak"},
                {"meter": "storage", "model": "per_unit", "unit_price": "0.10"},
            ],
        )
        events = []
        for p in range(PARTNERS):
            partner = PartnerFactory(name=f"Partner {p}", currency="EUR", tax_rate=Decimal("20"))
            for c in range(2):
                client = ClientFactory(partner=partner, external_id=f"c{c}", started_on=month)
                subscription_create(
                    client=client,
                    price_plan=plan,
                    quantity=10 + p,
                    started_on=month,
                    actor=ACTOR,
                )
                events.append(
                    {
                        "event_id": f"e-{p}-{c}",
                        "client": f"c{c}",
                        "partner": partner.pk,
                        "meter": "storage",
                        "quantity": str(100 * (c + 1)),
                        "timestamp": f"{month:%Y-%m}-10T12:00:00+00:00",
                    }
                )
        assert ingest_batch(events, caller_partner_id=None).accepted == 2 * PARTNERS
        with connection.cursor() as cursor:
            cursor.execute(
                "CREATE FUNCTION slow_rating() RETURNS trigger LANGUAGE plpgsql AS "
                "$$ BEGIN PERFORM pg_sleep(0.4); RETURN NULL; END $$"
            )
            cursor.execute(
                "CREATE TRIGGER slow_rating AFTER INSERT ON billing_invoiceline "
                "FOR EACH STATEMENT EXECUTE FUNCTION slow_rating()"
            )
    return vendor.schema_name, month


def _drop(schema: str) -> None:
    connection.set_schema_to_public()
    Domain.objects.filter(tenant__slug=SLUG).delete()
    Vendor.objects.filter(slug=SLUG).delete()
    with connection.cursor() as cursor:
        cursor.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def _in(schema: str, fn, *args):
    def run():
        with schema_context(schema):
            return fn(*args)

    return committed(run)


def _state(month):
    period = BillingPeriod.objects.get(month=month)
    chunks = RatingChunk.objects.filter(period=period, run=period.run)
    return period.status, chunks.filter(done_at__isnull=False).count(), chunks.count()


def _wait_for(schema, month, predicate, what: str):
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        state = _in(schema, _state, month)
        if predicate(state):
            return state
        time.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}; last state {state}")


def _close(month):
    period_close(month=month, actor=ACTOR)


def _rows(month):
    return invoice_rows(BillingPeriod.objects.get(month=month))


def _drop_slowness():
    with connection.cursor() as cursor:
        cursor.execute("DROP TRIGGER slow_rating ON billing_invoiceline")


def _totals():
    return sorted(
        Invoice.objects.values_list("partner__name", "subtotal", "tax", "total"),
    )


@pytest.fixture
def kill_world(settings):
    settings.BILLING_RATING_CHUNK_SIZE = 1  # one partner per task: many chances to die mid-way
    committed(_drop, schema_name_for(SLUG))  # leftovers of an aborted run
    schema, month = committed(_seed)
    yield schema, month
    committed(_drop, schema)


def test_killing_the_worker_mid_rating_then_closing_again_leaves_one_clean_run(kill_world):
    schema, month = kill_world
    first = start_worker("close-kill")
    try:
        _in(schema, _close, month)
        status, done, total = _wait_for(
            schema, month, lambda s: s[1] >= 2, "two chunks to be rated"
        )
        first.kill()
    finally:
        first.stop()
        first.cleanup()
    assert first.wait_for_no_connections() == 0
    status, done, total = _in(schema, _state, month)
    assert status == PeriodStatus.RATING
    assert total == PARTNERS
    assert 2 <= done < PARTNERS, "the kill should land while chunks are still pending"

    # Close again: a new run; the old run's queued chunks reach the new worker and skip.
    second = start_worker("close-kill-2", purge=False)
    try:
        _in(schema, _close, month)
        _wait_for(schema, month, lambda s: s[0] == PeriodStatus.REVIEW, "review")
        recovered = _in(schema, _rows, month)
        # A clean run to compare with: re-rate from review without the slowness.
        _in(schema, _drop_slowness)
        _in(schema, _close, month)
        _wait_for(schema, month, lambda s: s[0] == PeriodStatus.REVIEW, "review again")
        clean = _in(schema, _rows, month)
    finally:
        second.stop()
        second.cleanup()
    assert recovered == clean
    assert len(clean) == PARTNERS
    assert all(len(lines) == 4 for *_, lines in clean)  # 2 clients × (seats, storage)
    # Partner p: 2 × (10 + p) seats × 2.00 + (100 + 200) GB × 0.10, tax 20 %.
    expected = []
    for p in range(PARTNERS):
        subtotal = Decimal(2 * (10 + p) * 2) + Decimal("30.00")
        tax = (subtotal * Decimal("0.2")).quantize(Decimal("0.01"))
        expected.append((f"Partner {p}", subtotal, tax, subtotal + tax))
    assert _in(schema, _totals) == sorted(expected)
    assert _in(schema, lambda: Partner.objects.count()) == PARTNERS
