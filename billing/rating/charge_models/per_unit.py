from __future__ import annotations

from decimal import Decimal

from billing.rating.charge_models.base import ChargeModel
from billing.rating.types import ChargeModelKind, ChargeSpec, TierAmount


class PerUnit(ChargeModel):
    """quantity × unit_price."""

    kind = ChargeModelKind.PER_UNIT
    uses = frozenset({"unit_price"})

    def exact_amount(
        self, quantity: Decimal, charge: ChargeSpec
    ) -> tuple[Decimal, tuple[TierAmount, ...]]:
        assert charge.unit_price is not None  # validated by ChargeSpec
        return quantity * charge.unit_price, ()
