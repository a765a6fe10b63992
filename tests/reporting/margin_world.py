"""A small world with hand-computable margins, shared by the reporting tests.

Vendor A, partner Alpha IT (EUR, Gold tier: 10 % discount, 19 % tax) with clients Kiwi GmbH and
Lime AG; products Backup (plan "backup": seats; meter backup-gb) and Mail Security (plan "mail":
seats). Partner Bravo Systems (EUR) with client Mango SA, whose numbers must never show up for
Alpha.

Alpha's resale prices: Backup markup 25 % from 2026-09; Mail fixed €30.00 from 2026-09; Lime's
override for Backup fixed €80.00 from 2026-10.

Invoice lines (amount → discount 10 % → net):

- September 2026, finalized: Kiwi Backup seats 120.00 → 108.00; Kiwi Mail seats 50.00 → 45.00;
  Lime Backup GB 33.35 → 30.01.
- October 2026, finalized: Kiwi Backup seats 100.00 → 90.00; Kiwi Backup GB adjustment for
  September −5.00 → −4.50; Lime Backup seats 90.00 → 81.00; Lime Mail adjustment for September
  10.00 → 9.00 (an adjustment alone does not charge Mail's fixed price again).
- November 2026, in review (draft): Kiwi Mail seats 50.00 → 45.00; Lime Backup seats 90.00 →
  81.00. Credit notes issued on 10 November 2026 (Berlin) against September's invoice: 15.00 on
  Kiwi's Mail line, and 2.00 against the whole invoice (no client).

Expected (see EXPECTED): every figure below is in the tests, worked by hand.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django_tenants.utils import schema_context

from billing.models import (
    Charge,
    CreditNote,
    Invoice,
    Meter,
    PricePlan,
    PricePlanVersion,
    Product,
)
from billing.services.credit_notes import credit_note_create
from core.actors import Actor
from partners.models import Client, Partner
from reporting.models import ResalePrice
from reporting.services.resale_prices import resale_price_set
from tests.billing.invoice_fixtures import make_invoice, make_meter
from tests.factories import ClientFactory, PartnerFactory, TierFactory, TrackFactory

D = datetime.date
ACTOR = Actor.system("margin tests")
BERLIN = datetime.timezone(datetime.timedelta(hours=1))  # CET in November


def plan_charge(
    *, code: str, product: Product, meter: Meter | None = None, position: int = 0
) -> Charge:
    plan, _ = PricePlan.objects.get_or_create(
        code=code, defaults={"name": code.title(), "currency": "EUR", "product": product}
    )
    version, _ = PricePlanVersion.objects.get_or_create(
        plan=plan, version=1, defaults={"effective_from": D(2026, 1, 1)}
    )
    charge, _ = Charge.objects.get_or_create(
        version=version,
        position=position,
        defaults={
            "meter": meter,
            "seats": meter is None,
            "model": "per_unit",
            "unit_price": Decimal("1"),
            "counting_rule": "" if meter else "average",
        },
    )
    return charge


@dataclass
class MarginWorld:
    tv: Any
    alpha: Partner
    bravo: Partner
    kiwi: Client
    lime: Client
    mango: Client
    backup: Product
    mail: Product
    backup_seats: Charge
    backup_gb: Charge
    mail_seats: Charge
    september: Invoice
    october: Invoice
    november: Invoice
    bravo_october: Invoice
    line_credit: CreditNote
    invoice_credit: CreditNote

    def schema(self):
        return schema_context(self.tv.schema)


def line(client: Client, charge: Charge, amount: str, **extra: Any) -> dict[str, Any]:
    return {
        "client": client,
        "charge": charge,
        "meter": charge.meter,
        "amount": Decimal(amount),
        "quantity": Decimal("10"),
        **extra,
    }


def build_margin_world(tv, *, prices: bool = True, credits: bool = True) -> MarginWorld:
    with schema_context(tv.schema):
        track = TrackFactory(name="Managed Services", slug="managed-margin")
        gold = TierFactory(track=track, name="Gold", wholesale_discount_pct=Decimal("10.00"))
        alpha = PartnerFactory(
            name="Alpha IT", track=track, tier=gold, currency="EUR", tax_rate=Decimal("19.00")
        )
        bravo = PartnerFactory(name="Bravo Systems", track=track, currency="EUR")
        kiwi = ClientFactory(partner=alpha, name="Kiwi GmbH", external_id="KIWI-1")
        lime = ClientFactory(partner=alpha, name="Lime AG", external_id="LIME-1")
        mango = ClientFactory(partner=bravo, name="Mango SA", external_id="MANGO-1")
        backup = Product.objects.create(code="backup", name="Backup")
        mail = Product.objects.create(code="mail", name="Mail Security")
        gb = make_meter("backup-gb", "GB")
        gb.product = backup
        gb.save(update_fields=["product"])
        backup_seats = plan_charge(code="backup", product=backup)
        backup_gb = plan_charge(code="backup", product=backup, meter=gb, position=1)
        mail_seats = plan_charge(code="mail", product=mail)

        september = make_invoice(
            partner=alpha,
            month="2026-09",
            finalized=True,
            lines=[
                line(kiwi, backup_seats, "120.00"),
                line(kiwi, mail_seats, "50.00"),
                line(lime, backup_gb, "33.35"),
            ],
        )
        october = make_invoice(
            partner=alpha,
            month="2026-10",
            finalized=True,
            lines=[
                line(kiwi, backup_seats, "100.00"),
                line(kiwi, backup_gb, "-5.00", adjustment_of="2026-09"),
                line(lime, backup_seats, "90.00"),
                line(lime, mail_seats, "10.00", adjustment_of="2026-09"),
            ],
        )
        november = make_invoice(
            partner=alpha,
            month="2026-11",
            lines=[line(kiwi, mail_seats, "50.00"), line(lime, backup_seats, "90.00")],
        )
        bravo_october = make_invoice(
            partner=bravo,
            month="2026-10",
            finalized=True,
            lines=[line(mango, backup_seats, "777.00"), line(mango, mail_seats, "333.00")],
        )
        line_credit = invoice_credit = None
        if credits:
            kiwi_mail = september.lines.get(client=kiwi, charge=mail_seats)
            line_credit = credit_note_create(
                invoice=september,
                reason="Mail outage",
                lines=[{"invoice_line": kiwi_mail.pk, "amount": Decimal("15.00")}],
                actor=ACTOR,
            )
            invoice_credit = credit_note_create(
                invoice=september, reason="Goodwill", amount=Decimal("2.00"), actor=ACTOR
            )
            issued = datetime.datetime(2026, 11, 10, 12, 0, tzinfo=BERLIN)
            CreditNote.objects.filter(pk__in=[line_credit.pk, invoice_credit.pk]).update(
                created_at=issued
            )
        if prices:
            resale_price_set(
                partner=alpha,
                product=backup,
                effective_from=D(2026, 9, 1),
                kind="markup",
                markup_pct="25",
                actor=ACTOR,
            )
            resale_price_set(
                partner=alpha,
                product=mail,
                effective_from=D(2026, 9, 1),
                kind="fixed",
                fixed_price="30.00",
                actor=ACTOR,
            )
            resale_price_set(
                partner=alpha,
                product=backup,
                client=lime,
                effective_from=D(2026, 10, 1),
                kind="fixed",
                fixed_price="80.00",
                actor=ACTOR,
            )
            # Bravo's own prices: never applied to, or shown for, Alpha.
            resale_price_set(
                partner=bravo,
                product=backup,
                effective_from=D(2026, 9, 1),
                kind="markup",
                markup_pct="99",
                actor=ACTOR,
            )
    return MarginWorld(
        tv=tv,
        alpha=alpha,
        bravo=bravo,
        kiwi=kiwi,
        lime=lime,
        mango=mango,
        backup=backup,
        mail=mail,
        backup_seats=backup_seats,
        backup_gb=backup_gb,
        mail_seats=mail_seats,
        september=september,
        october=october,
        november=november,
        bravo_october=bravo_october,
        line_credit=line_credit,  # type: ignore[arg-type]
        invoice_credit=invoice_credit,  # type: ignore[arg-type]
    )


# (vendor cost, resale revenue, margin, margin %) per client name, and the total.
EXPECTED = {
    "2026-09": {
        "Kiwi GmbH": ("153.00", "165.00", "12.00", "7.27"),
        "Lime AG": ("30.01", "37.51", "7.50", "19.99"),
        "total": ("183.01", "202.51", "19.50", "9.63"),
    },
    "2026-10": {
        "Kiwi GmbH": ("85.50", "106.88", "21.38", "20.00"),
        "Lime AG": ("90.00", "80.00", "-10.00", "-12.50"),
        "total": ("175.50", "186.88", "11.38", "6.09"),
    },
    "2026-11": {
        "Kiwi GmbH": ("30.00", "30.00", "0.00", "0.00"),
        "Lime AG": ("81.00", "80.00", "-1.00", "-1.25"),
        "total": ("109.00", "110.00", "1.00", "0.91"),
    },
}


def resale_rows(tv) -> list[dict]:
    with schema_context(tv.schema):
        return list(ResalePrice.objects.order_by("pk").values())
