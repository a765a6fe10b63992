from __future__ import annotations

from decimal import Decimal

from billing.rating.charge_models.base import ChargeModel, tier_ranges
from billing.rating.types import ChargeModelKind, ChargeSpec, TierAmount


class Graduated(ChargeModel):
    """Each unit priced in the tier it falls in, plus the flat fee of every tier reached.

    A tier is reached when the quantity exceeds its lower bound: with tiers up to 100 and above,
    100 units reach only the first tier and 100.5 units reach both. 0 units reach no tier and cost
    nothing (not even the first tier's flat fee)."""

    kind = ChargeModelKind.GRADUATED
    uses = frozenset({"tiers"})

    def exact_amount(
        self, quantity: Decimal, charge: ChargeSpec
    ) -> tuple[Decimal, tuple[TierAmount, ...]]:
        breakdown: list[TierAmount] = []
        for lower, tier in tier_ranges(charge.tiers):
            if quantity <= lower:
                break
            upper = quantity if tier.up_to is None else min(quantity, Decimal(tier.up_to))
            units = upper - lower
            breakdown.append(
                TierAmount(
                    from_units=lower,
                    up_to=tier.up_to,
                    units=units,
                    unit_price=tier.unit_price,
                    flat_fee=tier.flat_fee,
                    amount=units * tier.unit_price + tier.flat_fee,
                )
            )
        return sum((part.amount for part in breakdown), Decimal(0)), tuple(breakdown)
