"""Plain results of rating: what an invoice and its lines should be, before anything is written.

The month-end close writes them (billing.closing.write); the running estimate shows them as they
are. Amounts are already rounded per PRODUCT.md (line amounts to the minor unit, then discount and
net per line, then invoice totals from the rounded lines).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any


@dataclass(frozen=True, slots=True)
class DraftLine:
    client_id: int
    charge_id: int
    meter_id: int | None
    seats: bool
    price_plan_code: str
    description: str
    quantity: Decimal  # exact (a seat average may have many digits); rounded when stored
    unit_price: Decimal  # effective
    amount: Decimal
    discount: Decimal
    net_amount: Decimal
    pooled: bool = False
    tiers: tuple[dict[str, Any], ...] = ()
    adjustment_of: date | None = None  # the month a prior-period adjustment corrects


@dataclass(frozen=True, slots=True)
class DraftInvoice:
    partner_id: int
    currency: str
    lines: tuple[DraftLine, ...]
    subtotal: Decimal
    discount: Decimal
    tax: Decimal
    total: Decimal
    discount_pct: Decimal
    tax_rate: Decimal
    tier_name: str = ""
    bill_to_name: str = ""
    bill_to_email: str = ""
    bill_to_address: str = ""
    bill_to_country: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def lines_for_client(self, client_id: int) -> tuple[DraftLine, ...]:
        return tuple(line for line in self.lines if line.client_id == client_id)
