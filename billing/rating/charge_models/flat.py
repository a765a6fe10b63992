from __future__ import annotations

from decimal import Decimal

from billing.rating.charge_models.base import ChargeModel
from billing.rating.types import ChargeModelKind, ChargeSpec, TierAmount


class Flat(ChargeModel):
    """flat_fee per period whatever the quantity (0 included): whether a client owes it at all
    (subscribed during the period, not trial/NFR) is decided before pricing. Its effective unit
    price is the fee itself (one period × fee). Not poolable: it has no tiers."""

    kind = ChargeModelKind.FLAT
    uses = frozenset({"flat_fee"})
    poolable = False

    def exact_amount(
        self, quantity: Decimal, charge: ChargeSpec
    ) -> tuple[Decimal, tuple[TierAmount, ...]]:
        assert charge.flat_fee is not None
        return charge.flat_fee, ()

    def unit_price_effective(
        self, exact: Decimal, quantity: Decimal, charge: ChargeSpec
    ) -> Decimal:
        assert charge.flat_fee is not None
        return charge.flat_fee
