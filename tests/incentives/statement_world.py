"""A small world for the statement page, API and isolation tests (vendor A):

- alpha: October 2026 invoice INV-… (finalized) with lines Kiwi Dental 100.00 and Lime Law 50.00
  (no tier discount); its October statement: an accrual of 15.00 (10 % of 150.00) traced to that
  invoice, a growth bonus of 5.00 and a clawback of −2.00 → payable 18.00;
- bravo: an October statement with an accrual of 7.00.
"""

from __future__ import annotations

from dataclasses import dataclass

from django_tenants.utils import schema_context

from incentives.models import EntryKind, LedgerEntry, Statement
from partners.models import Partner
from tests.billing.invoice_fixtures import make_invoice
from tests.factories import ClientFactory, PartnerFactory

from .statement_support import D, post, statement_of


@dataclass
class World:
    tv: object
    alpha: Partner
    bravo: Partner
    alpha_statement: Statement
    bravo_statement: Statement
    accrual: LedgerEntry
    bravo_accrual: LedgerEntry
    invoice_number: str

    def schema(self):
        return schema_context(self.tv.schema)


def build_world(tv) -> World:
    with schema_context(tv.schema):
        alpha = PartnerFactory(name="Alpha IT", tax_rate=D("19.00"))
        bravo = PartnerFactory(name="Bravo Systems")
        kiwi = ClientFactory(partner=alpha, name="Kiwi Dental", external_id="kiwi")
        lime = ClientFactory(partner=alpha, name="Lime Law", external_id="lime")
        invoice = make_invoice(
            partner=alpha,
            month="2026-10",
            lines=[
                {"client": kiwi, "amount": D("100.00"), "description": "Seats (Kiwi)"},
                {"client": lime, "amount": D("50.00"), "description": "Seats (Lime)"},
            ],
            finalized=True,
        )
        accrual = post(
            alpha,
            "2026-10",
            "15.00",
            invoice=invoice,
            basis=D("150.00"),
            rate_pct=D("10"),
            description="Commission on INV October",
        )
        post(alpha, "2026-10", "5.00", kind=EntryKind.GROWTH_BONUS, description="Growth bonus")
        post(alpha, "2026-10", "-2.00", kind=EntryKind.CLAWBACK, description="Clawback CN")
        bravo_accrual = post(bravo, "2026-10", "7.00", description="Commission bravo")
        return World(
            tv=tv,
            alpha=alpha,
            bravo=bravo,
            alpha_statement=statement_of(alpha, "2026-10"),
            bravo_statement=statement_of(bravo, "2026-10"),
            accrual=accrual,
            bravo_accrual=bravo_accrual,
            invoice_number=invoice.number,
        )
