"""A small world for accrual tests: partner Alpha IT (Gold: 10 % wholesale discount, 10 %
commission benefit, growth-bonus eligible), products Backup (the seat plan's) and Storage (the
backup-gb meter's), and helpers to write finalized invoices and MRR. Call inside the vendor's
schema."""

from __future__ import annotations

import datetime
from decimal import Decimal

from billing.models import PartnerMrr, Product
from core.actors import Actor
from incentives.models import LedgerEntry
from incentives.services.plans import commission_plan_create, growth_bonus_rule_create
from tests.billing.invoice_fixtures import as_month, fixture_charge, make_invoice, make_meter
from tests.factories import ClientFactory, PartnerFactory, TierFactory

D = Decimal
ACTOR = Actor.system("incentive tests")


class World:
    def __init__(self) -> None:
        self.gold = TierFactory(
            name="Gold",
            wholesale_discount_pct=D("10"),
            commission_rate_pct=D("10"),
            growth_bonus_eligible=True,
        )
        self.alpha = PartnerFactory(name="Alpha IT", track=self.gold.track, tier=self.gold)
        self.kiwi = ClientFactory(partner=self.alpha, name="Kiwi GmbH")
        self.lime = ClientFactory(partner=self.alpha, name="Lime AG")
        self.backup = Product.objects.create(code="backup", name="Backup")
        self.storage = Product.objects.create(code="storage", name="Storage")
        self.seats_charge = fixture_charge("EUR")
        plan = self.seats_charge.version.plan
        plan.product = self.backup
        plan.save(update_fields=["product"])
        self.meter = make_meter("backup-gb", "GB")
        self.meter.product = self.storage
        self.meter.save(update_fields=["product"])

    def plan(self, basis: str = "billed", **extra):
        return commission_plan_create(
            name="Standard",
            basis=basis,
            effective_from=extra.pop("effective_from", datetime.date(2026, 1, 1)),
            tier_rates={self.gold.pk: D("12.5")},
            product_rates={self.storage.pk: D("20")},
            accelerators=[(D("100"), D("1.2"))],
            actor=ACTOR,
            **extra,
        )

    def growth_rule(self, **extra):
        return growth_bonus_rule_create(
            name="Growth",
            effective_from=datetime.date(2026, 1, 1),
            currency="EUR",
            new_client_months=extra.pop("new_client_months", 3),
            new_client_bonus=extra.pop("new_client_bonus", D("50.00")),
            bands=extra.pop("bands", [(D("5"), D("2")), (D("20"), D("5"))]),
            actor=ACTOR,
        )

    def october(self, **extra):
        """Kiwi seats 120.00 (net 108.00), Lime seats 90.00 (net 81.00), Lime 667 GB 33.35
        (net 30.01), a September adjustment for Kiwi −5.00 (net −4.50). Groups: Backup 189.00,
        Storage 25.51; MRR 219.01 (≥ 100: × 1.2)."""
        invoice = make_invoice(
            partner=self.alpha,
            month="2026-10",
            finalized=True,
            lines=[
                {"client": self.kiwi, "amount": D("120.00"), "quantity": D("40")},
                {"client": self.lime, "amount": D("90.00"), "quantity": D("30")},
                {"client": self.lime, "meter": self.meter, "amount": D("33.35")},
                {
                    "client": self.kiwi,
                    "meter": self.meter,
                    "amount": D("-5.00"),
                    "adjustment_of": "2026-09",
                },
            ],
            **extra,
        )
        record_mrr(invoice)
        return invoice


def record_mrr(invoice) -> None:
    """What period_finalize records: Σ net of the invoice's non-adjustment lines."""
    total = sum(
        (line.net_amount for line in invoice.lines.all() if line.adjustment_of is None), D(0)
    )
    PartnerMrr.objects.update_or_create(
        partner=invoice.partner,
        month=invoice.period.month,
        currency=invoice.currency,
        defaults={"amount": total},
    )


def seats_invoice(world: World, month: str, clients_amounts: list, **extra):
    invoice = make_invoice(
        partner=extra.pop("partner", world.alpha),
        month=month,
        finalized=True,
        lines=[{"client": c, "amount": a} for c, a in clients_amounts],
        **extra,
    )
    record_mrr(invoice)
    return invoice


def ledger(**filters) -> list[tuple]:
    """(source_key, kind, amount) of matching entries, in the order they were posted."""
    return list(
        LedgerEntry.objects.filter(**filters)
        .order_by("id")
        .values_list("source_key", "kind", "amount")
    )


def balance(partner) -> Decimal:
    return sum(LedgerEntry.objects.filter(partner=partner).values_list("amount", flat=True), D(0))


def first(month: str) -> datetime.date:
    return as_month(month)
