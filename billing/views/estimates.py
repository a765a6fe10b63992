"""The running estimate of a partner's current-month invoice, as a card on the invoice lists
(portal: the partner's own; console: when the list is filtered to one partner)."""

from __future__ import annotations

from dataclasses import dataclass

from billing.closing.estimate import estimate_for_partner
from billing.closing.rate import vendor_today
from partners.evaluation import money


@dataclass(frozen=True)
class EstimateRow:
    currency: str
    clients: int
    lines: int
    subtotal: str
    discount: str
    tax: str
    total: str


def partner_estimate(partner) -> dict:
    today = vendor_today()
    rows = [
        EstimateRow(
            currency=invoice.currency,
            clients=len({line.client_id for line in invoice.lines}),
            lines=len(invoice.lines),
            subtotal=money(invoice.subtotal, invoice.currency),
            discount=money(invoice.discount, invoice.currency),
            tax=money(invoice.tax, invoice.currency),
            total=money(invoice.total, invoice.currency),
        )
        for invoice in estimate_for_partner(partner, today=today)
    ]
    return {"month": today.replace(day=1), "as_of": today, "rows": rows, "partner": partner}
