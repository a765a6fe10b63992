"""Growth and new-client bonuses from finalized months, and accrual of a month really closed."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django_tenants.utils import schema_context, tenant_context

from billing.models import BillingPeriod, InvoiceLine, Meter, PartnerMrr, PricePlan, Product
from billing.services.invoice_payments import invoice_mark_paid
from billing.services.periods import period_finalize
from incentives.commission import Accelerator, LineFact, PlanRules
from incentives.models import LedgerEntry
from incentives.services.accrual import charge_products, period_accrue
from incentives.services.plans import commission_plan_create
from partners.enums import ClientStatus
from tests.billing import closing_support as closing
from tests.billing.invoice_fixtures import run_deferred_checks
from tests.factories import ClientFactory, PartnerFactory, TierFactory

from . import commission_reference as ref
from .accrual_support import ACTOR, World, first, ledger, seats_invoice

D = Decimal
pytestmark = pytest.mark.django_db


@pytest.fixture
def world(vendor_a):
    with schema_context(vendor_a.schema):
        world = World()
        world.plum = ClientFactory(
            partner=world.alpha,
            name="Plum (churned)",
            status=ClientStatus.CHURNED,
            ended_on=datetime.date(2026, 9, 15),
        )
        world.fig = ClientFactory(partner=world.alpha, name="Fig (new in August)")
        yield world
        run_deferred_checks(vendor_a)


def history(world) -> dict:
    """Net = 90 % of each amount (Gold's 10 % discount).
    Jul: Kiwi 1,000, Plum 100            MRR  990   churned  90 → 900
    Aug: Kiwi 1,100, Plum 100, Fig 100   MRR 1,170  churned  90 → 1,080
    Sep: Kiwi 1,200, Plum 100, Fig 100   MRR 1,260  churned  90 → 1,170
    Oct: Kiwi 1,400, Fig 100             MRR 1,350
    Baseline (900 + 1,080 + 1,170) / 3 = 1,050.00; growth 300.00 = 28.57 % → 5 % band: 15.00."""
    k, p, f = world.kiwi, world.plum, world.fig
    return {
        "2026-07": seats_invoice(world, "2026-07", [(k, D("1000.00")), (p, D("100.00"))]),
        "2026-08": seats_invoice(
            world, "2026-08", [(k, D("1100.00")), (p, D("100.00")), (f, D("100.00"))]
        ),
        "2026-09": seats_invoice(
            world, "2026-09", [(k, D("1200.00")), (p, D("100.00")), (f, D("100.00"))]
        ),
        "2026-10": seats_invoice(world, "2026-10", [(k, D("1400.00")), (f, D("100.00"))]),
    }


def test_growth_and_new_client_bonus_of_a_month(world):
    world.growth_rule()
    invoices = history(world)
    # A partner whose tier is not growth-bonus eligible gets no growth bonus.
    plain = TierFactory(track=world.gold.track, name="Plain", commission_rate_pct=D("5"))
    bravo = PartnerFactory(name="Bravo", track=plain.track, tier=plain)
    mango = ClientFactory(partner=bravo)
    for month, amount in (("2026-07", "100"), ("2026-08", "100"), ("2026-09", "100")):
        seats_invoice(world, month, [(mango, D(amount))], partner=bravo)
    seats_invoice(world, "2026-10", [(mango, D("500"))], partner=bravo)

    period_accrue(period_id=invoices["2026-10"].period_id)
    bonuses = ledger(kind__in=["growth_bonus", "new_client_bonus"])
    assert bonuses == [
        (f"growth:{world.alpha.pk}:EUR:2026-10", "growth_bonus", D("15.00")),
        (f"new-client:{world.fig.pk}", "new_client_bonus", D("50.00")),
    ]
    growth = LedgerEntry.objects.get(kind="growth_bonus")
    assert (growth.basis, growth.rate_pct, growth.month) == (D("300.00"), D("5"), first("2026-10"))
    fig = LedgerEntry.objects.get(kind="new_client_bonus")
    assert (fig.client, fig.partner, fig.month) == (world.fig, world.alpha, first("2026-10"))
    # Exactly once.
    assert period_accrue(period_id=invoices["2026-10"].period_id) == 0
    # Mango (Bravo) is new since July: its streak ended in September, not now.
    assert not LedgerEntry.objects.filter(client=mango).exists()


def test_new_client_bonus_in_the_month_the_streak_completes(world):
    world.growth_rule()
    invoices = history(world)
    period_accrue(period_id=invoices["2026-09"].period_id)
    # In September: Plum and Kiwi were first billed in July — their 3rd month: both due.
    due = LedgerEntry.objects.filter(kind="new_client_bonus").values_list("client", flat=True)
    assert sorted(due) == sorted([world.kiwi.pk, world.plum.pk])
    period_accrue(period_id=invoices["2026-10"].period_id)
    assert LedgerEntry.objects.filter(kind="new_client_bonus").count() == 3  # + Fig


def test_collected_basis_bonuses_follow_payments(world):
    world.plan(basis="collected")
    world.growth_rule()
    invoices = history(world)
    for month in ("2026-07", "2026-08", "2026-10"):
        invoice_mark_paid(invoice_id=invoices[month].pk, actor=ACTOR)
    # September unpaid: no baseline, and Fig has not paid three months in a row.
    assert not LedgerEntry.objects.filter(kind__in=["growth_bonus", "new_client_bonus"]).exists()
    invoice_mark_paid(invoice_id=invoices["2026-09"].pk, actor=ACTOR)
    # Paying September completes Fig's streak ending in October, and the September new-client
    # bonuses of Kiwi and Plum (first paid in July).
    clients = set(
        LedgerEntry.objects.filter(kind="new_client_bonus").values_list("client", flat=True)
    )
    assert clients == {world.fig.pk, world.kiwi.pk, world.plum.pk}


def test_accrual_of_a_month_really_closed_matches_the_reference(vendor_a):
    with tenant_context(vendor_a.vendor):
        built = closing.build_world()
        closing.october_usage(built)
        partner = built["partner"]
        partner.tier.commission_rate_pct = D("7.5")
        partner.tier.save()
        backup = Product.objects.create(code="backup", name="Backup")
        storage = Product.objects.create(code="storage", name="Storage")
        PricePlan.objects.filter(code="backup").update(product=backup)
        Meter.objects.filter(code="storage").update(product=storage)
        plan = commission_plan_create(
            name="Launch",
            basis="billed",
            effective_from=datetime.date(2026, 10, 1),
            product_rates={storage.pk: D("15")},
            accelerators=[(D("10"), D("1.5"))],
            actor=ACTOR,
        )
        closing.close(datetime.date(2026, 10, 1), closing.at(2026, 11, 1, 0, 30))
        period_finalize(month=datetime.date(2026, 10, 1), actor=ACTOR, now=closing.at(2026, 11, 2))
        period = BillingPeriod.objects.get(month=datetime.date(2026, 10, 1))
        assert period_accrue(period_id=period.pk) >= 2

        products = charge_products()
        lines = [
            LineFact(
                line.invoice_id,
                products[line.charge_id],
                line.net_amount,
                line.adjustment_of is not None,
            )
            for line in InvoiceLine.objects.filter(invoice__period=period)
        ]
        mrr = PartnerMrr.objects.get(partner=partner, month=period.month).amount
        rules = PlanRules(
            effective_from=plan.effective_from,
            basis="billed",
            product_rates={storage.pk: D("15")},
            accelerators=(Accelerator(min_mrr=D("10"), multiplier=D("1.5")),),
        )
        expected = {
            f"acc:{inv}:p{product or 0}": amount
            for (inv, product), amount in ref.commissions(
                lines, rules, partner.tier_id, D("7.5"), mrr, 2
            ).items()
            if amount
        }
        posted = dict(
            LedgerEntry.objects.filter(kind="accrual").values_list("source_key", "amount")
        )
        assert posted == expected
        # Seats and devices (a meter without a product: its plan's) → Backup; storage → Storage.
        assert len(posted) == 2
        run_deferred_checks(vendor_a)
