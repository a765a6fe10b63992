"""Invoices written straight to the ORM for tests of what reads them (API, pages, PDF, credit
notes): `make_invoice` writes a consistent invoice, its lines and its billing period, with the
figures computed by core.money exactly as rating does (PRODUCT.md "Money").

Use it inside `schema_context(vendor.schema)`:

    invoice = make_invoice(
        partner=alpha,
        month="2026-10",
        lines=[
            {"client": kiwi, "amount": Decimal("120.00"), "quantity": Decimal("40")},
            {"client": lime, "meter": backup_gb, "amount": Decimal("33.35"),
             "quantity": Decimal("667"), "tiers": [...]},
            {"client": kiwi, "amount": Decimal("-5.00"), "adjustment_of": "2026-09"},
        ],
        finalized=True,
    )

A line needs `client` and `amount` (already rounded); everything else has a default: a seats
line (or a meter line when `meter` is given) on a small fixture price plan, quantity 1, the
effective unit price amount / quantity. The discount comes from the partner's tier, the tax rate
from the partner. A finalized invoice gets `number` (or the next number of the gapless "invoice"
sequence), status `open` (or `status`), an issue date and a finalization time; its lines are
written while it is still a draft, since the database refuses line changes on a finalized one.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import connection, transaction
from django_tenants.utils import schema_context

from billing.closing.totals import product_totals_record
from billing.models import (
    BillingPeriod,
    Charge,
    Invoice,
    InvoiceLine,
    Meter,
    PricePlan,
    PricePlanVersion,
)
from billing.models_invoicing import InvoiceStatus, PeriodStatus
from billing.services.numbering import reserve_numbers
from core.money import effective_unit_price, invoice_totals, line_totals
from partners.models import Client, Partner, Tier
from tests.factories import ClientFactory, PartnerFactory, TierFactory, TrackFactory

UTC = datetime.UTC


def as_month(month: datetime.date | str) -> datetime.date:
    """ "2026-10" or a date → the first of that month."""
    if isinstance(month, str):
        year, number = month.split("-")[:2]
        return datetime.date(int(year), int(number), 1)
    return month.replace(day=1)


def next_month(month: datetime.date) -> datetime.date:
    return (month.replace(day=28) + datetime.timedelta(days=4)).replace(day=1)


def make_period(month: datetime.date | str, status: str = PeriodStatus.REVIEW) -> BillingPeriod:
    """The period of `month` (created if missing), moved to `status`."""
    first = as_month(month)
    starts_at = datetime.datetime.combine(first, datetime.time(), tzinfo=UTC)
    ends_at = datetime.datetime.combine(next_month(first), datetime.time(), tzinfo=UTC)
    finalized_at = ends_at + datetime.timedelta(days=2)
    period, created = BillingPeriod.objects.get_or_create(
        month=first,
        defaults={
            "status": status,
            "starts_at": starts_at,
            "ends_at": ends_at,
            "finalized_at": finalized_at if status == PeriodStatus.FINALIZED else None,
        },
    )
    if not created and period.status != status:
        period.status = status
        if status == PeriodStatus.FINALIZED and period.finalized_at is None:
            period.finalized_at = finalized_at
        period.save(update_fields=["status", "finalized_at", "updated_at"])
    return period


def fixture_charge(currency: str, meter: Meter | None = None) -> Charge:
    """A per-unit charge of a small fixture plan: on seats, or on `meter`."""
    code = f"fixture-{meter.code if meter else 'seats'}-{currency.lower()}"
    plan, _ = PricePlan.objects.get_or_create(
        code=code, defaults={"name": f"Fixture {code}", "currency": currency}
    )
    version, _ = PricePlanVersion.objects.get_or_create(
        plan=plan, version=1, defaults={"effective_from": datetime.date(2020, 1, 1)}
    )
    charge, _ = Charge.objects.get_or_create(
        version=version,
        position=0,
        defaults={
            "meter": meter,
            "seats": meter is None,
            "model": "per_unit",
            "unit_price": Decimal("1"),
            "counting_rule": "" if meter else "average",
        },
    )
    return charge


def make_meter(code: str = "backup-gb", unit: str = "GB") -> Meter:
    meter, _ = Meter.objects.get_or_create(
        code=code,
        defaults={"name": code.replace("-", " ").title(), "unit": unit, "aggregation": "sum"},
    )
    return meter


def make_invoice(
    *,
    partner: Partner,
    month: datetime.date | str,
    lines: list[dict[str, Any]],
    finalized: bool = False,
    number: str | None = None,
    status: str | None = None,
    currency: str | None = None,
    period_status: str | None = None,
    issued_on: datetime.date | None = None,
) -> Invoice:
    # One transaction, as rating writes them: the totals-match-lines check runs at its commit.
    with transaction.atomic():
        return _make_invoice(
            partner=partner,
            month=month,
            lines=lines,
            finalized=finalized,
            number=number,
            status=status,
            currency=currency,
            period_status=period_status,
            issued_on=issued_on,
        )


def _make_invoice(
    *,
    partner: Partner,
    month: datetime.date | str,
    lines: list[dict[str, Any]],
    finalized: bool,
    number: str | None,
    status: str | None,
    currency: str | None,
    period_status: str | None,
    issued_on: datetime.date | None,
) -> Invoice:
    first = as_month(month)
    currency = currency or partner.currency
    tier = partner.tier
    discount_pct = tier.wholesale_discount_pct if tier is not None else Decimal("0")
    tax_rate = partner.tax_rate
    period = make_period(
        first,
        period_status or (PeriodStatus.FINALIZED if finalized else PeriodStatus.REVIEW),
    )

    built: list[InvoiceLine] = []
    for position, spec in enumerate(lines, start=1):
        amount: Decimal = spec["amount"]
        quantity: Decimal = Decimal(spec.get("quantity", 1))
        meter: Meter | None = spec.get("meter")
        charge = spec.get("charge") or fixture_charge(currency, meter)
        figures = line_totals(amount, discount_pct, currency)
        adjustment_of = spec.get("adjustment_of")
        default_description = f"{meter.name} ({meter.unit})" if meter else "Seats"
        built.append(
            InvoiceLine(
                position=position,
                client=spec["client"],
                charge=charge,
                meter=meter,
                seats=meter is None,
                price_plan_code=spec.get("price_plan_code", charge.version.plan.code),
                description=spec.get("description", default_description),
                quantity=quantity,
                unit_price=spec.get("unit_price", effective_unit_price(amount, quantity)),
                amount=amount,
                discount=figures.discount,
                net_amount=figures.net,
                pooled=spec.get("pooled", False),
                tiers=spec.get("tiers", []),
                adjustment_of=as_month(adjustment_of) if adjustment_of else None,
            )
        )
    totals = invoice_totals(((line.amount, line.discount) for line in built), tax_rate, currency)
    invoice = Invoice.objects.create(
        period=period,
        partner=partner,
        currency=currency,
        status=InvoiceStatus.DRAFT,
        subtotal=totals.subtotal,
        discount=totals.discount,
        tax=totals.tax,
        total=totals.total,
        discount_pct=discount_pct,
        tax_rate=tax_rate,
        tier_name=tier.name if tier is not None else "",
        bill_to_name=partner.name,
        bill_to_email=partner.billing_email,
        bill_to_address=partner.billing_address,
        bill_to_country=partner.country,
    )
    for line in built:
        line.invoice = invoice
    InvoiceLine.objects.bulk_create(built)
    if finalized:
        # Lines first, then the number: a finalized invoice's lines can no longer change.
        invoice.number = number or reserve_numbers("invoice", 1)[0]
        invoice.status = status or InvoiceStatus.OPEN
        invoice.issued_on = issued_on or next_month(first)
        invoice.finalized_at = datetime.datetime.combine(
            invoice.issued_on, datetime.time(9), tzinfo=UTC
        )
        invoice.save(update_fields=["number", "status", "issued_on", "finalized_at"])
        product_totals_record(invoice_ids=[invoice.pk])  # as finalize does
    return invoice


# --- a small world shared by the invoice tests -------------------------------------------------

POOLED_TIERS = [
    {
        "from": 0,
        "up_to": 500,
        "units": "500",
        "unit_price": "0.05",
        "flat_fee": "0",
        "amount": "25.00",
    },
    {
        "from": 500,
        "up_to": None,
        "units": "167",
        "unit_price": "0.05",
        "flat_fee": "0",
        "amount": "8.35",
    },
]


@dataclass
class InvoiceWorld:
    """Vendor A with two partners and their invoices:

    - alpha (Gold tier, 10 % discount, 19 % tax): September 2026 finalized (INV-000901, open),
      October 2026 a draft in review (with a prior-period adjustment for September), November
      2026 a draft of a period still being rated;
    - bravo (no tier, 20 % tax): October 2026 a draft in review.

    September: Kiwi seats 40 × €3 = €120.00 (discount 12.00, net 108.00); Lime backup 667 GB =
    €33.35 with a tier breakdown (discount 3.34, net 30.01). Subtotal 153.35, discount 15.34,
    tax round(138.01 × 19 %) = 26.22, total 164.23.
    """

    tv: Any
    gold: Tier
    alpha: Partner
    bravo: Partner
    kiwi: Client
    lime: Client
    mango: Client
    backup: Meter
    september: Invoice
    october: Invoice
    november: Invoice
    bravo_october: Invoice

    def schema(self):
        return schema_context(self.tv.schema)


def build_invoice_world(tv) -> InvoiceWorld:
    with schema_context(tv.schema):
        track = TrackFactory(name="Managed Services", slug="managed-invoices")
        gold = TierFactory(track=track, name="Gold", wholesale_discount_pct=Decimal("10.00"))
        alpha = PartnerFactory(
            name="Alpha IT",
            track=track,
            tier=gold,
            tax_rate=Decimal("19.00"),
            billing_email="billing@alpha.example",
            billing_address="Hauptstraße 1\n10115 Berlin",
        )
        bravo = PartnerFactory(
            name="Bravo Systems", track=track, tax_rate=Decimal("20.00"), country="FR"
        )
        kiwi = ClientFactory(partner=alpha, name="Kiwi GmbH", external_id="KIWI-1")
        lime = ClientFactory(partner=alpha, name="Lime AG", external_id="LIME-1")
        mango = ClientFactory(partner=bravo, name="Mango SA", external_id="MANGO-1")
        backup = make_meter("backup-gb", "GB")
        september = make_invoice(
            partner=alpha,
            month="2026-09",
            finalized=True,
            number="INV-000901",
            lines=[
                {
                    "client": kiwi,
                    "amount": Decimal("120.00"),
                    "quantity": Decimal("40"),
                    "description": "Backup Pro: seats (average)",
                },
                {
                    "client": lime,
                    "meter": backup,
                    "amount": Decimal("33.35"),
                    "quantity": Decimal("667"),
                    "description": "Backup Pro: Backup Gb (GB)",
                    "pooled": True,
                    "tiers": POOLED_TIERS,
                },
            ],
        )
        october = make_invoice(
            partner=alpha,
            month="2026-10",
            lines=[
                {
                    "client": lime,
                    "amount": Decimal("90.00"),
                    "quantity": Decimal("30"),
                    "description": "Backup Pro: seats (average)",
                },
                {
                    "client": kiwi,
                    "amount": Decimal("100.00"),
                    "quantity": Decimal("10.483871"),
                    "unit_price": Decimal("9.538461"),
                    "description": "Backup Pro: seats (average)",
                },
                {
                    "client": kiwi,
                    "meter": backup,
                    "amount": Decimal("-5.00"),
                    "quantity": Decimal("-100"),
                    "description": "Backup Pro: Backup Gb (GB)",
                    "adjustment_of": "2026-09",
                },
            ],
        )
        november = make_invoice(
            partner=alpha,
            month="2026-11",
            period_status=PeriodStatus.RATING,
            lines=[{"client": kiwi, "amount": Decimal("10.00")}],
        )
        bravo_october = make_invoice(
            partner=bravo,
            month="2026-10",
            lines=[{"client": mango, "amount": Decimal("50.00"), "quantity": Decimal("5")}],
        )
    return InvoiceWorld(
        tv=tv,
        gold=gold,
        alpha=alpha,
        bravo=bravo,
        kiwi=kiwi,
        lime=lime,
        mango=mango,
        backup=backup,
        september=september,
        october=october,
        november=november,
        bravo_october=bravo_october,
    )


def run_deferred_checks(tv) -> None:
    """Fire the deferred invoice-totals check now, in the vendor's schema.

    Tests run in one transaction that is rolled back, so the check (deferred to COMMIT) would
    only run in Django's teardown `SET CONSTRAINTS ALL IMMEDIATE`, where a failure is hard to
    read. Call this at the end of a test that wrote invoices (an autouse fixture does it): it
    proves the rows are consistent, inside the test."""
    with schema_context(tv.schema), connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("SET CONSTRAINTS ALL DEFERRED")
