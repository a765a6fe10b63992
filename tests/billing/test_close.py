"""The month-end close end to end (chunks run in the test's transaction): a worked example with
exact amounts, states and their refusals, re-rating, finalize, MRR, late usage."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django_tenants.utils import tenant_context

from billing.errors import PeriodStateError
from billing.models import BillingPeriod, Invoice, InvoiceLine, LateUsage, PartnerMrr
from billing.models_invoicing import InvoiceStatus, PeriodStatus
from billing.services.periods import period_close, period_finalize, period_progress
from core.models import AuditEntry
from partners.requirements import measure
from tests.billing.closing_support import (
    ACTOR,
    D,
    at,
    build_world,
    close,
    event,
    invoice_rows,
    october_usage,
    report,
    run_chunks,
)

pytestmark = pytest.mark.django_db

NOV_1 = at(2026, 11, 1, 0, 30)
DEC_1 = at(2026, 12, 1, 0, 30)


@pytest.fixture
def world(vendor_a):
    with tenant_context(vendor_a.vendor):
        world = build_world()
        october_usage(world)
        yield world


def lines_of(invoice) -> list[tuple]:
    return list(
        InvoiceLine.objects.filter(invoice=invoice)
        .order_by("position")
        .values_list("client__name", "description", "quantity", "amount", "discount", "net_amount")
    )


def test_closing_october_writes_the_worked_example_to_the_cent(world):
    period = close(D(2026, 10, 1), NOV_1)
    assert period.status == PeriodStatus.REVIEW
    assert period_progress(period) == 100
    invoice = Invoice.objects.get(period=period)
    assert (invoice.partner_id, invoice.currency, invoice.status, invoice.number) == (
        world["partner"].pk,
        "EUR",
        InvoiceStatus.DRAFT,
        None,
    )
    # Seats: Alpha had 10 seats for 16 days and 20 for 15: 460 / 31 seat-months × 3.00 = 44.516…
    # Storage pooled: 80 + 60 = 140 GB → 100 × 0.10 + 40 × 0.05 = 12.00, split 80 : 60 by the
    # largest remainder (685.71… and 514.28… cents). Devices: laptop-1 and laptop-2 → 2 × 1.50.
    # Beta reported no devices: no line. Cedar is on trial: nothing.
    assert lines_of(invoice) == [
        (
            "Alpha Clinic",
            "Backup: seats (daily average)",
            Decimal("14.838710"),
            Decimal("44.52"),
            Decimal("4.45"),
            Decimal("40.07"),
        ),
        (
            "Alpha Clinic",
            "Backup: Backup storage (GB)",
            Decimal("80"),
            Decimal("6.86"),
            Decimal("0.69"),
            Decimal("6.17"),
        ),
        (
            "Alpha Clinic",
            "Backup: Protected devices (device)",
            Decimal("2"),
            Decimal("3.00"),
            Decimal("0.30"),
            Decimal("2.70"),
        ),
        (
            "Beta Bakery",
            "Backup: seats (daily average)",
            Decimal("5"),
            Decimal("15.00"),
            Decimal("1.50"),
            Decimal("13.50"),
        ),
        (
            "Beta Bakery",
            "Backup: Backup storage (GB)",
            Decimal("60"),
            Decimal("5.14"),
            Decimal("0.51"),
            Decimal("4.63"),
        ),
    ]
    # subtotal 74.52, discount 7.45, tax round(67.07 × 19 %) = 12.74, total 79.81.
    assert (invoice.subtotal, invoice.discount, invoice.tax, invoice.total) == (
        Decimal("74.52"),
        Decimal("7.45"),
        Decimal("12.74"),
        Decimal("79.81"),
    )
    assert (invoice.discount_pct, invoice.tax_rate, invoice.tier_name, invoice.bill_to_name) == (
        Decimal("10"),
        Decimal("19"),
        "Gold",
        "Alpha IT",
    )
    storage = InvoiceLine.objects.get(invoice=invoice, client=world["alpha"], meter__code="storage")
    assert storage.pooled is True
    assert storage.tiers == [
        {
            "from": 0,
            "up_to": 100,
            "units": "100",
            "unit_price": "0.1",
            "flat_fee": "0",
            "amount": "10",
        },
        {
            "from": 100,
            "up_to": None,
            "units": "40",
            "unit_price": "0.05",
            "flat_fee": "0",
            "amount": "2",
        },
    ]


def test_rerating_and_closing_again_leave_the_rows_of_one_clean_run(world):
    period = close(D(2026, 10, 1), NOV_1)
    first = invoice_rows(period)
    invoice_id = Invoice.objects.get(period=period).pk
    # Re-rating from review replaces the drafts with identical ones, on the same invoice row.
    period = close(D(2026, 10, 1), NOV_1)
    assert invoice_rows(period) == first
    assert Invoice.objects.get(period=period).pk == invoice_id
    # A chunk delivered twice does nothing the second time; chunks of an older run skip.
    assert run_chunks(period) == ["skipped"]
    assert InvoiceLine.objects.filter(invoice__period=period).count() == 5


def test_an_interrupted_run_restarted_leaves_one_clean_run(world):
    period = period_close(month=D(2026, 10, 1), actor=ACTOR, now=NOV_1)
    assert period.status == PeriodStatus.RATING
    assert period_progress(period) == 0
    old_run = period.run
    # The worker died before finishing: close again from "rating" starts a new run.
    period = period_close(month=D(2026, 10, 1), actor=ACTOR, now=NOV_1)
    assert period.run != old_run
    run_chunks(period)
    period.refresh_from_db()
    assert period.status == PeriodStatus.REVIEW
    clean = invoice_rows(period)
    # A stale chunk of the old run, delivered late, skips itself and changes nothing.
    from billing.models import RatingChunk
    from billing.services.periods import period_rate_chunk

    stale = RatingChunk.objects.get(period=period, run=old_run)
    assert period_rate_chunk(chunk_id=stale.pk) == "skipped"
    assert invoice_rows(period) == clean


def product_totals(invoice) -> dict:
    """product id → (net, recurring, lines) as finalize recorded them."""
    from billing.models import InvoiceProductTotal

    return {
        t.product_id: (t.net_amount, t.recurring, t.lines)
        for t in InvoiceProductTotal.objects.filter(invoice=invoice)
    }


def expected_product_totals(invoice) -> dict:
    """The same, summed here line by line: a line's product is its meter's, else its plan's."""
    totals: dict = {}
    lines = InvoiceLine.objects.filter(invoice=invoice).select_related(
        "charge__meter", "charge__version__plan"
    )
    for line in lines:
        meter = line.charge.meter
        product = (meter.product_id if meter else None) or line.charge.version.plan.product_id
        net, recurring, count = totals.get(product, (Decimal(0), None, 0))
        if line.adjustment_of is None:
            recurring = (recurring or Decimal(0)) + line.net_amount
        totals[product] = (net + line.net_amount, recurring, count + 1)
    return totals


def test_a_month_cannot_close_before_it_ends_nor_finalize_outside_review(world):
    with pytest.raises(PeriodStateError, match="November 2026 has not ended yet"):
        period_close(month=D(2026, 11, 1), actor=ACTOR, now=at(2026, 11, 30, 22))
    with pytest.raises(PeriodStateError, match="has not been closed yet"):
        period_finalize(month=D(2026, 10, 1), actor=ACTOR)
    period = period_close(month=D(2026, 10, 1), actor=ACTOR, now=NOV_1)
    with pytest.raises(PeriodStateError, match="is rating: only a period in review"):
        period_finalize(month=D(2026, 10, 1), actor=ACTOR)
    run_chunks(period)
    period_finalize(month=D(2026, 10, 1), actor=ACTOR, now=at(2026, 11, 2, 9))
    with pytest.raises(PeriodStateError, match="2026-10 is finalized"):
        period_close(month=D(2026, 10, 1), actor=ACTOR, now=NOV_1)
    with pytest.raises(PeriodStateError, match="is finalized: only a period in review"):
        period_finalize(month=D(2026, 10, 1), actor=ACTOR)


def test_finalize_numbers_invoices_records_mrr_and_feeds_the_tier_metric(world):
    close(D(2026, 10, 1), NOV_1)
    period = period_finalize(month=D(2026, 10, 1), actor=ACTOR, now=at(2026, 11, 2, 9))
    assert (period.status, period.finalized_by_label) == (PeriodStatus.FINALIZED, ACTOR.label)
    invoice = Invoice.objects.get(period=period)
    assert (invoice.number, invoice.status, invoice.issued_on) == (
        "INV-000001",
        InvoiceStatus.OPEN,
        D(2026, 11, 2),
    )
    # MRR = Σ net of the month's own lines (67.07), excluding tax.
    assert list(PartnerMrr.objects.values_list("partner_id", "month", "currency", "amount")) == [
        (world["partner"].pk, D(2026, 10, 1), "EUR", Decimal("67.07"))
    ]
    assert measure([world["partner"]])[world["partner"].pk].mrr == Decimal("67.07")
    assert product_totals(invoice) == expected_product_totals(invoice)
    assert sum(t[1] for t in product_totals(invoice).values()) == Decimal("67.07")
    # The next month's period exists, open.
    assert BillingPeriod.objects.get(month=D(2026, 11, 1)).status == PeriodStatus.OPEN
    assert AuditEntry.objects.filter(action="billing_period.finalized").count() == 1


def test_usage_for_a_period_in_review_requires_re_rating_before_finalizing(world):
    close(D(2026, 10, 1), NOV_1)
    report(world, event("late-1", "beta", "devices", "1", "2026-10-20T00:00:00Z", device_id="x"))
    period = BillingPeriod.objects.get(month=D(2026, 10, 1))
    assert period.needs_rerating is True
    with pytest.raises(PeriodStateError, match="re-rate it before finalizing"):
        period_finalize(month=D(2026, 10, 1), actor=ACTOR)
    period = close(D(2026, 10, 1), NOV_1)
    assert period.needs_rerating is False
    beta_devices = InvoiceLine.objects.get(
        invoice__period=period, client=world["beta"], meter__code="devices"
    )
    assert (beta_devices.quantity, beta_devices.amount) == (Decimal("1"), Decimal("1.50"))
    period_finalize(month=D(2026, 10, 1), actor=ACTOR, now=at(2026, 11, 2, 9))


def test_usage_for_a_finalized_period_is_billed_next_period_as_labelled_adjustments(world):
    close(D(2026, 10, 1), NOV_1)
    period_finalize(month=D(2026, 10, 1), actor=ACTOR, now=at(2026, 11, 2, 9))
    october = BillingPeriod.objects.get(month=D(2026, 10, 1))
    frozen = invoice_rows(october)
    # 40 more GB for Alpha in October: the pool grows to 180 GB → 14.00, split 120 : 60 as
    # 9.33 and 4.67 — Alpha +2.47, Beta −0.47 (its share of the cheaper tier grew).
    assert report(world, event("late-2", "alpha", "storage", "40", "2026-10-28T00:00:00Z")) == {
        "accepted": 1,
        "duplicates": 0,
        "rejected": [],
    }
    assert LateUsage.objects.filter(period=october, partner=world["partner"]).exists()
    november = close(D(2026, 11, 1), DEC_1)
    invoice = Invoice.objects.get(period=november)
    assert lines_of(invoice) == [
        (
            "Alpha Clinic",
            "Backup: seats (daily average)",
            Decimal("20"),
            Decimal("60.00"),
            Decimal("6.00"),
            Decimal("54.00"),
        ),
        (
            "Beta Bakery",
            "Backup: seats (daily average)",
            Decimal("5"),
            Decimal("15.00"),
            Decimal("1.50"),
            Decimal("13.50"),
        ),
        # Beta's 1,000 GB reported at midnight of 1 November (Berlin) belong to November.
        (
            "Beta Bakery",
            "Backup: Backup storage (GB)",
            Decimal("1000"),
            Decimal("55.00"),
            Decimal("5.50"),
            Decimal("49.50"),
        ),
        (
            "Alpha Clinic",
            "Prior-period adjustment for October 2026: Backup: Backup storage (GB)",
            Decimal("40"),
            Decimal("2.47"),
            Decimal("0.25"),
            Decimal("2.22"),
        ),
        (
            "Beta Bakery",
            "Prior-period adjustment for October 2026: Backup: Backup storage (GB)",
            Decimal("0"),
            Decimal("-0.47"),
            Decimal("-0.05"),
            Decimal("-0.42"),
        ),
    ]
    assert list(
        InvoiceLine.objects.filter(invoice=invoice, adjustment_of__isnull=False)
        .order_by()
        .values_list("adjustment_of", flat=True)
        .distinct()
    ) == [D(2026, 10, 1)]
    # The October invoice itself never changed.
    assert invoice_rows(october) == frozen
    # Finalizing November settles the marker and leaves adjustments out of November's MRR.
    period_finalize(month=D(2026, 11, 1), actor=ACTOR, now=at(2026, 12, 2, 9))
    assert LateUsage.objects.get(period=october).settled_in.month == D(2026, 11, 1)
    assert PartnerMrr.objects.get(month=D(2026, 11, 1)).amount == Decimal("117.00")
    november_invoice = Invoice.objects.get(period__month=D(2026, 11, 1))
    totals = product_totals(november_invoice)
    assert totals == expected_product_totals(november_invoice)
    # Net includes the adjustment lines; recurring (the MRR) leaves them out.
    assert sum(t[0] for t in totals.values()) == Decimal("117.00") + sum(
        InvoiceLine.objects.filter(
            invoice=november_invoice, adjustment_of__isnull=False
        ).values_list("net_amount", flat=True),
        Decimal(0),
    )
    assert sum(t[1] or 0 for t in totals.values()) == Decimal("117.00")
    # A December close bills no further adjustment for October.
    december = close(D(2026, 12, 1), at(2027, 1, 1, 1))
    assert not InvoiceLine.objects.filter(
        invoice__period=december, adjustment_of__isnull=False
    ).exists()
