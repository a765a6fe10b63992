"""The charge-model interface: quantity → PricedQuantity, exact until one final rounding."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from decimal import Decimal
from typing import ClassVar

from billing.rating.types import (
    ChargeModelKind,
    ChargeSpec,
    ChargeSpecError,
    PricedQuantity,
    Tier,
    TierAmount,
    exact_arithmetic,
)
from core.money import effective_unit_price, require_decimal, round_money

# The ChargeSpec fields that say how much a charge costs; each model uses a subset of them.
PRICING_FIELDS: dict[str, str] = {
    "unit_price": "a unit price",
    "tiers": "tiers",
    "package_size": "a package size",
    "package_price": "a package price",
    "flat_fee": "a flat fee",
}


class ChargeModel(ABC):
    kind: ClassVar[ChargeModelKind]
    uses: ClassVar[
        frozenset[str]
    ]  # the PRICING_FIELDS this model needs (and the only ones allowed)
    poolable: ClassVar[bool] = True

    @classmethod
    def validate(cls, charge: ChargeSpec) -> None:
        """Refuse a spec that lacks a field this model needs or sets one it would ignore."""
        for name, label in PRICING_FIELDS.items():
            value = getattr(charge, name)
            is_set = value is not None and value != ()
            if name in cls.uses and not is_set:
                raise ChargeSpecError(f"A {cls.kind} charge needs {label}.", name)
            if name not in cls.uses and is_set:
                raise ChargeSpecError(f"A {cls.kind} charge does not use {label}.", name)
        if charge.pooled and not cls.poolable:
            raise ChargeSpecError(
                f"A {cls.kind} charge cannot be pooled: it has no tiers to count.", "pooled"
            )

    def price(self, quantity: Decimal, charge: ChargeSpec) -> PricedQuantity:
        if charge.model != self.kind:
            raise ValueError(f"A {self.kind} model cannot price a {charge.model} charge.")
        quantity = require_decimal(quantity, "quantity")
        if quantity < 0:
            raise ValueError(f"Cannot price a negative quantity ({quantity}).")
        with exact_arithmetic():
            exact, breakdown = self.exact_amount(quantity, charge)
        # Rounded once, here, outside the exact context: each line amount to the minor unit.
        return PricedQuantity(
            amount=round_money(exact, charge.currency),
            exact_amount=exact,
            unit_price_effective=self.unit_price_effective(exact, quantity, charge),
            tier_breakdown=breakdown,
        )

    @abstractmethod
    def exact_amount(
        self, quantity: Decimal, charge: ChargeSpec
    ) -> tuple[Decimal, tuple[TierAmount, ...]]:
        """The unrounded amount and tier breakdown (runs with Inexact trapped)."""

    def unit_price_effective(
        self, exact: Decimal, quantity: Decimal, charge: ChargeSpec
    ) -> Decimal:
        return effective_unit_price(exact, quantity)


def tier_ranges(tiers: tuple[Tier, ...]) -> Iterator[tuple[int, Tier]]:
    """Each tier with the exclusive lower bound of its units: (0, t1), (t1.up_to, t2), …"""
    lower = 0
    for tier in tiers:
        yield lower, tier
        if tier.up_to is not None:
            lower = tier.up_to
