"""The demo vendor's money out (demo/incentives.py via `manage.py seed_demo`): a commission plan
and a growth bonus rule, commission accrued from both finalized months, the first month's
statements approved and paid out as credits on the second month's invoices, the second month's
statements waiting for finance; Northwind IT's resale prices and margin."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db.models import Sum
from django_tenants.utils import tenant_context

from billing.models import Invoice, InvoiceCredit
from incentives.models import (
    CommissionPlan,
    EntryKind,
    GrowthBonusRule,
    LedgerEntry,
    Payout,
    PayoutStatus,
    Statement,
    StatementStatus,
)
from partners.models import Partner
from reporting.models import ResalePrice
from reporting.selectors import billed_months, margin_report

pytestmark = pytest.mark.django_db


def test_a_commission_plan_and_a_growth_rule_start_with_the_first_demo_month(acme, months):
    with tenant_context(acme):
        plan = CommissionPlan.objects.get()
        assert (plan.basis, plan.effective_from, plan.minimum_payout) == (
            "billed",
            months[0],
            Decimal("25.00"),
        )
        assert [(p.product.code, p.rate_pct) for p in plan.product_rates.all()] == [
            ("acme-backup", Decimal("12.0000"))
        ]
        assert [(a.min_mrr, a.multiplier) for a in plan.accelerators.all()] == [
            (Decimal("2000.0000"), Decimal("1.250"))
        ]
        rule = GrowthBonusRule.objects.get()
        assert (rule.effective_from, rule.new_client_months, rule.new_client_bonus) == (
            months[0],
            2,
            Decimal("40.0000"),
        )


def test_both_finalized_months_accrued_commission_from_their_invoices(acme, months):
    with tenant_context(acme):
        for month in months[:2]:
            invoices = set(
                Invoice.objects.filter(period__month=month, total__gt=0).values_list(
                    "pk", flat=True
                )
            )
            accrued = set(
                LedgerEntry.objects.filter(kind=EntryKind.ACCRUAL, month=month).values_list(
                    "invoice_id", flat=True
                )
            )
            assert invoices and accrued == invoices
        # Nothing was accrued for the open month.
        assert not LedgerEntry.objects.filter(month=months[2], kind=EntryKind.ACCRUAL).exists()


def test_first_month_is_paid_out_on_the_second_months_invoices(acme, months):
    with tenant_context(acme):
        first = Statement.objects.filter(month=months[0])
        assert first.exists()
        assert set(first.values_list("status", flat=True)) <= {
            StatementStatus.APPROVED,
            StatementStatus.PAID,
        }
        payouts = Payout.objects.filter(statement__month=months[0])
        assert payouts.exists()
        assert set(payouts.values_list("status", flat=True)) == {PayoutStatus.PAID}
        for payout in payouts:
            credit = InvoiceCredit.objects.get(invoice=payout.credited_invoice)
            assert credit.amount == payout.amount
            assert payout.credited_invoice.period.month == months[1]
            assert payout.credited_invoice.credits == credit.amount
        # The second month's statements wait for finance.
        assert set(Statement.objects.filter(month=months[1]).values_list("status", flat=True)) == {
            StatementStatus.DRAFT
        }


def test_every_partners_ledger_balances(acme):
    with tenant_context(acme):
        for partner_id in set(LedgerEntry.objects.values_list("partner_id", flat=True)):
            entries = LedgerEntry.objects.filter(partner_id=partner_id)
            earned = entries.exclude(kind__in=[EntryKind.PAYOUT, EntryKind.CLAWBACK]).aggregate(
                s=Sum("amount")
            )["s"] or Decimal(0)
            taken = entries.filter(kind__in=[EntryKind.PAYOUT, EntryKind.CLAWBACK]).aggregate(
                s=Sum("amount")
            )["s"] or Decimal(0)
            balance = entries.aggregate(s=Sum("amount"))["s"]
            assert earned + taken == balance
            latest = Statement.objects.filter(partner_id=partner_id).order_by("-month").first()
            assert latest.carried_forward == balance


def test_northwind_has_resale_prices_and_a_margin(acme, months):
    with tenant_context(acme):
        northwind = Partner.objects.get(name="Northwind IT")
        prices = ResalePrice.objects.filter(partner=northwind)
        assert {(p.product.code, p.kind, p.client_id is not None) for p in prices} == {
            ("acme-endpoint", "markup", False),
            ("acme-backup", "fixed", False),
            ("acme-backup", "fixed", True),
        }
        billed = billed_months(northwind)
        month = next(b for b in billed if b.month == months[1])
        report = margin_report(northwind, month, billed)
        total = report.margin.total
        assert total.resale_revenue > 0 and total.vendor_cost > 0
        assert total.margin == total.resale_revenue - total.vendor_cost
