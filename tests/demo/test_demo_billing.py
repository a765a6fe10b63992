"""The demo vendor's billing (demo/billing.py via `manage.py seed_demo`): catalog, subscriptions,
three months of usage, two finalized months with gapless invoice numbers and MRR, the current
month open with a running estimate that includes a prior-period adjustment.

The demo is seeded once per module (tests/demo/conftest.py)."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.db.models import Count, F, Q
from django_tenants.utils import tenant_context

from billing.closing.estimate import estimate_for_partner
from billing.models import (
    BillingPeriod,
    Charge,
    Invoice,
    InvoiceLine,
    LateUsage,
    Meter,
    PartnerMrr,
    PricePlan,
    SeatQuantityChange,
    Subscription,
    UsageEvent,
)
from core.models import AuditEntry
from partners.enums import ClientStatus, PartnerStatus
from partners.models import Partner
from tests.demo.conftest import seed

pytestmark = pytest.mark.django_db


def test_catalog_has_3_meters_and_2_plans_with_different_charge_models(acme):
    with tenant_context(acme):
        meters = {
            m.code: (m.aggregation, m.unique_property, m.product.code)
            for m in Meter.objects.select_related("product")
        }
        assert meters == {
            "storage_gb": ("max", "", "acme-backup"),
            "endpoints": ("unique_count", "device_id", "acme-endpoint"),
            "api_calls": ("sum", "", "acme-backup"),
        }
        plans = {
            plan.code: (plan.name, plan.currency) for plan in PricePlan.objects.order_by("code")
        }
        assert plans == {
            "backup-recovery": ("Backup & Recovery", "EUR"),
            "endpoint-protection": ("Endpoint Protection", "EUR"),
        }
        charges = {
            code: [
                (c.model, c.meter.code if c.meter else "seats", c.pooled, c.counting_rule)
                for c in Charge.objects.filter(version__plan__code=code)
                .select_related("meter")
                .order_by("position")
            ]
            for code in plans
        }
        assert charges == {
            "endpoint-protection": [
                ("per_unit", "seats", False, "average"),
                ("graduated", "endpoints", True, ""),
            ],
            "backup-recovery": [
                ("flat", "seats", False, "snapshot"),
                ("volume", "storage_gb", False, ""),
                ("package", "api_calls", False, ""),
            ],
        }


def test_subscriptions_cover_active_and_suspended_partners_clients(acme, months):
    with tenant_context(acme):
        subs = Subscription.objects.select_related("client__partner")
        assert subs.count() > 400
        assert {s.client.partner.status for s in subs} == {
            PartnerStatus.ACTIVE,
            PartnerStatus.SUSPENDED,
        }
        assert not subs.filter(client__status=ClientStatus.CHURNED).exists()
        assert min(s.started_on for s in subs) == months[0]
        # Trial and NFR clients are subscribed too …
        unbilled = subs.filter(client__status__in=[ClientStatus.TRIAL, ClientStatus.NFR])
        assert unbilled.count() > 10
        # … and never on an invoice.
        assert not InvoiceLine.objects.filter(
            client__status__in=[ClientStatus.TRIAL, ClientStatus.NFR]
        ).exists()
        # Seat changes part-way through the months, besides each subscription's first quantity
        # (a change effective on the day it started).
        changes = SeatQuantityChange.objects.exclude(effective_on=F("subscription__started_on"))
        assert changes.count() > 10
        assert {change.effective_on.replace(day=1) for change in changes} == set(months)


def test_usage_spans_three_months(acme, months):
    with tenant_context(acme):
        tz = datetime.UTC
        total = UsageEvent.objects.count()
        assert 20_000 < total < 100_000
        per_meter = dict(
            UsageEvent.objects.values_list("meter__code").annotate(n=Count("id")).order_by()
        )
        assert set(per_meter) == {"storage_gb", "endpoints", "api_calls"}
        periods = {p.month: p for p in BillingPeriod.objects.all()}
        in_month = {
            month: UsageEvent.objects.filter(
                timestamp__gte=periods[month].starts_at, timestamp__lt=periods[month].ends_at
            ).count()
            for month in months
        }
        assert sum(in_month.values()) == total
        # The current month is to date: early on its first day it may have no usage yet.
        assert in_month[months[0]] > 10_000 and in_month[months[1]] > 10_000
        assert UsageEvent.objects.filter(timestamp__gt=datetime.datetime.now(tz)).count() == 0


def test_two_finalized_months_with_gapless_numbers_and_mrr(acme, months):
    with tenant_context(acme):
        statuses = dict(BillingPeriod.objects.values_list("month", "status"))
        assert statuses == {months[0]: "finalized", months[1]: "finalized", months[2]: "open"}
        invoices = list(Invoice.objects.order_by("number"))
        assert all(invoice.period.month in months[:2] for invoice in invoices)
        numbers = [invoice.number for invoice in invoices]
        assert numbers == [f"INV-{n:06d}" for n in range(1, len(invoices) + 1)]
        # Numbered month by month: the first month's invoices come first.
        first = [i.number for i in invoices if i.period.month == months[0]]
        assert first == numbers[: len(first)] and 10 < len(first) < len(numbers)
        assert {invoice.status for invoice in invoices} == {"open"}
        billed_partners = set(
            Partner.objects.filter(
                status__in=[PartnerStatus.ACTIVE, PartnerStatus.SUSPENDED]
            ).values_list("pk", flat=True)
        )
        assert {invoice.partner_id for invoice in invoices} == billed_partners
        for invoice in invoices:
            lines = InvoiceLine.objects.filter(invoice=invoice)
            assert invoice.total > 0 and invoice.currency == "EUR"
            assert invoice.subtotal == sum(line.amount for line in lines)
            plans = set(lines.values_list("price_plan_code", flat=True))
            assert "endpoint-protection" in plans
        # Both plans and all their charges are billed somewhere.
        assert set(InvoiceLine.objects.values_list("charge_id", flat=True)) == set(
            Charge.objects.values_list("pk", flat=True)
        )
        mrr = {
            (row.partner_id, row.month): row.amount
            for row in PartnerMrr.objects.filter(month__in=months[:2])
        }
        assert len(mrr) == len(invoices)
        for invoice in invoices:
            net = sum(
                InvoiceLine.objects.filter(invoice=invoice).values_list("net_amount", flat=True),
                Decimal(0),
            )
            assert mrr[(invoice.partner_id, invoice.period.month)] == net


def test_northwind_estimate_for_the_open_month_includes_a_prior_period_adjustment(acme, months):
    with tenant_context(acme):
        northwind = Partner.objects.get(name="Northwind IT")
        marker = LateUsage.objects.get()
        assert (marker.partner_id, marker.period.month, marker.settled_in) == (
            northwind.pk,
            months[1],
            None,
        )
        (estimate,) = estimate_for_partner(northwind)
        assert estimate.currency == "EUR"
        assert estimate.total > 0
        assert estimate.total == estimate.subtotal - estimate.discount + estimate.tax
        adjustments = [line for line in estimate.lines if line.adjustment_of is not None]
        assert len(adjustments) == 1
        (adjustment,) = adjustments
        assert adjustment.adjustment_of == months[1]
        assert adjustment.description.startswith(
            f"Prior-period adjustment for {months[1]:%B %Y}: Backup & Recovery:"
        )
        # 24,000 late requests: two or three more packages of 10,000 at 2.50.
        assert adjustment.quantity == Decimal(24000)
        assert adjustment.amount in (Decimal("5.00"), Decimal("7.50"))
        regular = {line.price_plan_code for line in estimate.lines if line.adjustment_of is None}
        assert regular == {"endpoint-protection", "backup-recovery"}


def test_seeding_again_changes_nothing(acme):
    def counts():
        with tenant_context(acme):
            return {
                "events": UsageEvent.objects.count(),
                "subscriptions": Subscription.objects.count(),
                "changes": SeatQuantityChange.objects.count(),
                "invoices": Invoice.objects.filter(~Q(number=None)).count(),
                "lines": InvoiceLine.objects.count(),
                "periods": BillingPeriod.objects.count(),
                "audit": AuditEntry.objects.count(),
            }

    before = counts()
    assert seed().splitlines()[0] == "Demo data already in place; nothing changed."
    assert counts() == before
