"""The running estimate of the current month's invoice, for a partner or one client: the close's
own rating over the month so far (usage to date, seats as scheduled to the month's end), without
writing anything. It is what the invoice would say if the month ended with no more usage."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal

from billing.closing.drafts import DraftInvoice, DraftLine
from billing.closing.rate import Catalog, period_bounds, vendor_today


@dataclass(frozen=True, slots=True)
class ClientEstimate:
    month: datetime.date
    currency: str
    lines: tuple[DraftLine, ...]
    amount: Decimal
    discount: Decimal
    net: Decimal


def estimate_for_partner(
    partner, *, today: datetime.date | None = None, catalog: Catalog | None = None
) -> list[DraftInvoice]:
    """The partner's draft invoices for the current month (one per currency)."""
    from billing.services.periods import rate_partners

    today = today or vendor_today()
    bounds = period_bounds(today)
    return rate_partners([partner.pk], bounds, catalog=catalog).get(partner.pk, [])


def estimate_for_client(
    client, *, today: datetime.date | None = None, catalog: Catalog | None = None
) -> ClientEstimate | None:
    """This client's share of the current month's estimate; None when nothing is billed for it.
    (A pooled charge is priced over all the partner's clients, so the partner is rated whole.)"""
    today = today or vendor_today()
    invoices = estimate_for_partner(client.partner, today=today, catalog=catalog)
    for invoice in invoices:
        lines = invoice.lines_for_client(client.pk)
        if lines:
            amount = sum((line.amount for line in lines), Decimal(0))
            discount = sum((line.discount for line in lines), Decimal(0))
            return ClientEstimate(
                month=today.replace(day=1),
                currency=invoice.currency,
                lines=lines,
                amount=amount,
                discount=discount,
                net=amount - discount,
            )
    return None
