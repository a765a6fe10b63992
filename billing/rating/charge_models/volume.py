from __future__ import annotations

from decimal import Decimal

from billing.rating.charge_models.base import ChargeModel, tier_ranges
from billing.rating.types import ChargeModelKind, ChargeSpec, TierAmount


class Volume(ChargeModel):
    """All units at the price of the tier the total falls in, plus that tier's flat fee.

    The total falls in the first tier whose up_to it does not exceed (100 units with a first tier
    up to 100 → first tier; 100.5 → the next). 0 units cost nothing, no flat fee."""

    kind = ChargeModelKind.VOLUME
    uses = frozenset({"tiers"})

    def exact_amount(
        self, quantity: Decimal, charge: ChargeSpec
    ) -> tuple[Decimal, tuple[TierAmount, ...]]:
        if quantity == 0:
            return Decimal(0), ()
        for lower, tier in tier_ranges(charge.tiers):
            if tier.up_to is None or quantity <= tier.up_to:
                amount = quantity * tier.unit_price + tier.flat_fee
                part = TierAmount(
                    from_units=lower,
                    up_to=tier.up_to,
                    units=quantity,
                    unit_price=tier.unit_price,
                    flat_fee=tier.flat_fee,
                    amount=amount,
                )
                return amount, (part,)
        raise AssertionError("the last tier is unbounded")  # ChargeSpec guarantees it
