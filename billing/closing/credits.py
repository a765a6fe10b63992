"""Credits on invoices at finalize: the hook through which higher apps (incentives: commission
payouts as a credit on the partner's next invoice) put credit lines on an invoice, without
billing importing them.

A provider is registered once (`register_credit_provider(fn)`, from the higher app's
AppConfig.ready()). When a period is finalized, each invoice being finalized asks every provider,
in registration order, for its credits: `fn(request) -> list[ProvidedCredit]`, where `request`
says whose invoice it is and how much can still be credited (`available`: the invoice's total so
far, never below 0). A provider runs in finalize's transaction, so what it records on its side
(a payout marked paid) commits or rolls back with the invoice. Credits are written as
`InvoiceCredit` rows; the invoice's `credits` is their sum and
total = subtotal − discount + tax − credits (the database checks both).
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from core.money import ZERO

__all__ = [
    "CreditProvider",
    "InvoiceCreditRequest",
    "ProvidedCredit",
    "apply_credits",
    "credit_providers",
    "register_credit_provider",
]


@dataclass(frozen=True)
class InvoiceCreditRequest:
    invoice_id: int
    number: str | None
    partner_id: int
    currency: str
    month: datetime.date
    available: Decimal


@dataclass(frozen=True)
class ProvidedCredit:
    description: str
    amount: Decimal  # positive, rounded to the currency
    reference: str  # the provider's id of what it credits, e.g. "payout:12"


CreditProvider = Callable[[InvoiceCreditRequest], Sequence[ProvidedCredit]]

_providers: list[CreditProvider] = []


def register_credit_provider(fn: CreditProvider) -> None:
    """Register `fn`; registering the same function twice is a no-op (ready() may run twice)."""
    name = f"{fn.__module__}.{fn.__qualname__}"
    if any(f"{p.__module__}.{p.__qualname__}" == name for p in _providers):
        return
    _providers.append(fn)


def credit_providers() -> list[CreditProvider]:
    return list(_providers)


def apply_credits(invoices: Sequence, *, month: datetime.date) -> list:
    """Ask the providers for credits of each invoice of `month`'s period (numbers assigned, not
    yet saved), set `credits` / `total` on them; returns the unsaved InvoiceCredit rows."""
    from billing.models import InvoiceCredit  # models import money helpers; keep this module light

    rows: list[InvoiceCredit] = []
    if not _providers:
        return rows
    for invoice in invoices:
        available = max(invoice.total, ZERO)
        given = ZERO
        for provider in _providers:
            request = InvoiceCreditRequest(
                invoice_id=invoice.pk,
                number=invoice.number,
                partner_id=invoice.partner_id,
                currency=invoice.currency,
                month=month,
                available=available - given,
            )
            for credit in provider(request):
                if credit.amount <= ZERO or given + credit.amount > available:
                    raise ValueError(
                        f"Credit provider {provider.__qualname__} gave {credit.amount} with "
                        f"{available - given} available."
                    )
                given += credit.amount
                rows.append(
                    InvoiceCredit(
                        invoice=invoice,
                        description=credit.description[:300],
                        amount=credit.amount,
                        reference=credit.reference[:100],
                    )
                )
        invoice.credits = given
        invoice.total -= given
    return rows
