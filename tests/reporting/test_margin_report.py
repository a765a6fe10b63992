"""The margin report over real invoice rows: the worked example of margin_world.py to the cent
(markup and fixed prices, a client override from a later month, a prior-period adjustment, an
adjustment-only product, credit notes in the month they are issued, a draft month), the billed
months and the default month, the trend, other currencies and void invoices."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest

from billing.models import Invoice
from billing.models_invoicing import InvoiceStatus
from reporting.selectors import (
    BilledMonth,
    billed_months,
    default_month,
    margin_report,
)
from tests.billing.invoice_fixtures import make_invoice, run_deferred_checks

from .margin_world import EXPECTED, MarginWorld, build_margin_world, line

pytestmark = pytest.mark.django_db
D = datetime.date


@pytest.fixture(autouse=True)
def _deferred_checks(vendor_a):
    yield
    run_deferred_checks(vendor_a)


@pytest.fixture
def world(vendor_a) -> MarginWorld:
    return build_margin_world(vendor_a)


def figures(report) -> dict[str, tuple[str, str, str, str | None]]:
    def quad(f):
        pct = None if f.margin_pct is None else f"{f.margin_pct:f}"
        return (
            f"{f.vendor_cost.quantize(Decimal('0.01')):f}",
            f"{f.resale_revenue.quantize(Decimal('0.01')):f}",
            f"{f.margin.quantize(Decimal('0.01')):f}",
            pct,
        )

    found = {row.name: quad(row) for row in report.margin.clients}
    found["total"] = quad(report.margin.total)
    return found


def report_for(w: MarginWorld, month: str):
    with w.schema():
        months = billed_months(w.alpha)
        chosen = next(m for m in months if m.value == month)
        return margin_report(w.alpha, chosen, months)


def test_billed_months_and_the_default_is_the_latest_finalized(world):
    with world.schema():
        months = billed_months(world.alpha)
    assert months == [
        BilledMonth(D(2026, 11, 1), "draft"),
        BilledMonth(D(2026, 10, 1), "finalized"),
        BilledMonth(D(2026, 9, 1), "finalized"),
    ]
    assert [m.label for m in months] == [
        "November 2026 (draft)",
        "October 2026",
        "September 2026",
    ]
    assert default_month(months) == BilledMonth(D(2026, 10, 1), "finalized")
    assert default_month(months[:1]) == months[0]  # only a draft: that one
    assert default_month([]) is None


@pytest.mark.parametrize("month", ["2026-09", "2026-10", "2026-11"])
def test_the_worked_example_to_the_cent(world, month):
    assert figures(report_for(world, month)) == EXPECTED[month]


def test_september_uses_the_product_markup_before_limes_override_starts(world):
    """Lime's override starts in October: September's Lime line is priced at cost + 25 %."""
    report = report_for(world, "2026-09")
    lime = next(r for r in report.margin.clients if r.name == "Lime AG")
    assert lime.resale_revenue == Decimal("37.51")  # 30.01 + round(7.5025) = 30.01 + 7.50


def test_credit_notes_lower_the_cost_of_the_month_they_are_issued_in(world):
    """Issued in November against September's invoice: September keeps its figures, November's
    cost drops (15.00 on Kiwi's line, 2.00 on the whole invoice, not tied to a client)."""
    september, november = report_for(world, "2026-09"), report_for(world, "2026-11")
    assert september.margin.unallocated_credits == 0
    assert [r.credited for r in september.margin.clients] == [0, 0]
    kiwi = next(r for r in november.margin.clients if r.name == "Kiwi GmbH")
    assert kiwi.credited == Decimal("15.00")
    assert kiwi.vendor_cost == Decimal("30.00")  # 45.00 − 15.00
    assert november.margin.unallocated_credits == Decimal("2.00")
    assert november.margin.credited == Decimal("17.00")
    # Revenue is what the MSP charged its client: a credit from the vendor does not change it.
    assert kiwi.resale_revenue == Decimal("30.00")


def test_an_adjustment_only_product_does_not_charge_a_fixed_price_again(world):
    report = report_for(world, "2026-10")
    lime = next(r for r in report.margin.clients if r.name == "Lime AG")
    # Backup: override fixed 80.00; Mail: only an adjustment line (net 9.00) → no 30.00.
    assert (lime.vendor_cost, lime.resale_revenue) == (Decimal("90.00"), Decimal("80.00"))
    assert lime.unpriced == []


def test_the_trend_covers_twelve_months_up_to_the_chosen_one(world):
    report = report_for(world, "2026-11")
    assert [p.month for p in report.trend] == [
        D(2025, 12, 1) if n == 0 else D(2026, n, 1) for n in range(12)
    ]
    billed = {f"{p.month:%Y-%m}": p.status for p in report.trend if p.status}
    assert billed == {"2026-09": "finalized", "2026-10": "finalized", "2026-11": "draft"}
    margins = {
        f"{p.month:%Y-%m}": f"{p.figures.total.margin.quantize(Decimal('0.01')):f}"
        for p in report.trend
        if p.figures
    }
    assert margins == {"2026-09": "19.50", "2026-10": "11.38", "2026-11": "1.00"}
    assert all(p.figures is None for p in report.trend if p.status is None)


def test_the_draft_month_is_marked_draft(world):
    report = report_for(world, "2026-11")
    assert report.billed.is_draft and report.billed.status == "draft"


def test_without_prices_every_product_is_unpriced_and_revenue_is_zero(vendor_a):
    w = build_margin_world(vendor_a, prices=False, credits=False)
    report = report_for(w, "2026-09")
    assert report.has_prices is False
    assert [(r.name, r.unpriced) for r in report.margin.clients] == [
        ("Kiwi GmbH", ["Backup", "Mail Security"]),
        ("Lime AG", ["Backup"]),
    ]
    assert report.margin.total.resale_revenue == 0
    assert report.margin.total.margin == Decimal("-183.01")
    assert report.margin.total.margin_pct is None  # no revenue: no percentage
    assert report.margin.unpriced_count == 3


def test_lines_in_another_currency_are_left_out_and_counted(world):
    with world.schema():
        make_invoice(
            partner=world.alpha,
            month="2026-10",
            currency="USD",
            finalized=True,
            lines=[{"client": world.kiwi, "amount": Decimal("500.00")}],
        )
    report = report_for(world, "2026-10")
    assert figures(report) == EXPECTED["2026-10"]
    assert report.other_currency_lines == 1


def test_a_void_invoice_counts_for_nothing(vendor_a):
    w = build_margin_world(vendor_a, credits=False)
    with w.schema():
        Invoice.objects.filter(pk=w.september.pk).update(status=InvoiceStatus.VOID)
        months = billed_months(w.alpha)
    assert [m.value for m in months] == ["2026-11", "2026-10"]


def test_lines_without_a_product_are_unpriced(world):
    """A fixture charge whose plan and meter name no product."""
    with world.schema():
        make_invoice(
            partner=world.alpha,
            month="2026-12",
            lines=[
                {"client": world.kiwi, "amount": Decimal("10.00")},
                line(world.kiwi, world.mail_seats, "50.00"),
            ],
        )
    report = report_for(world, "2026-12")
    kiwi = report.margin.clients[0]
    assert kiwi.unpriced == ["Lines without a product"]
    assert (kiwi.vendor_cost, kiwi.resale_revenue) == (Decimal("54.00"), Decimal("30.00"))
