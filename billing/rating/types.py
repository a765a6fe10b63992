"""Plain frozen dataclasses the rating pipeline passes around (no Django, no database).

Pipeline (like Lago's): events → aggregation (a meter's quantity per client) or seat counting
(a seat charge's quantity per client) → charge model (quantity → amount) → pooling (per client, or
pooled over all of a partner's clients and allocated back). Each family has one registry mapping
its kind to its class; the registries are the only places that branch on a kind.
"""

from __future__ import annotations

import decimal
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from core.money import UNIT_PRICE_PLACES, check_currency, require_decimal


class AggregationKind(StrEnum):
    SUM = "sum"
    COUNT = "count"
    MAX = "max"
    UNIQUE_COUNT = "unique_count"
    LATEST = "latest"


class ChargeModelKind(StrEnum):
    PER_UNIT = "per_unit"
    GRADUATED = "graduated"
    VOLUME = "volume"
    PACKAGE = "package"
    FLAT = "flat"


class CountingRuleKind(StrEnum):
    AVERAGE = "average"
    PEAK = "peak"
    SNAPSHOT = "snapshot"


class ChargeSpecError(ValueError):
    """A charge definition that cannot be priced; `field` names the offending ChargeSpec field."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


# Enough digits that products and sums of quantities and prices are exact: every pricing
# computation runs in this context with Inexact trapped, so an amount is either exact or an error,
# never silently rounded by Decimal's default 28 digits before money rounds it.
EXACT_PRECISION = 80


@contextmanager
def exact_arithmetic() -> Iterator[decimal.Context]:
    with decimal.localcontext() as ctx:
        ctx.prec = EXACT_PRECISION
        ctx.traps[decimal.Inexact] = True
        ctx.traps[decimal.Rounded] = True
        yield ctx


@dataclass(frozen=True, slots=True)
class UsageEvent:
    quantity: Decimal
    timestamp: datetime
    properties: Mapping[str, Any] = field(default_factory=dict)
    event_id: str = ""  # breaks timestamp ties for `latest`, as it will in SQL


def _price(value: object, name: str, field_name: str) -> Decimal:
    try:
        price = require_decimal(value, name)
    except (TypeError, ValueError) as exc:
        raise ChargeSpecError(f"{name} must be a decimal number.", field_name) from exc
    if price < 0:
        raise ChargeSpecError(f"{name} cannot be negative ({price}).", field_name)
    if price != price.quantize(Decimal(1).scaleb(-UNIT_PRICE_PLACES), rounding=decimal.ROUND_DOWN):
        raise ChargeSpecError(
            f"{name} has more than {UNIT_PRICE_PLACES} decimal places ({price}).", field_name
        )
    return price


@dataclass(frozen=True, slots=True)
class Tier:
    """Units in (previous tier's up_to, up_to]; the first tier starts after 0, the last has
    up_to None (unbounded). `flat_fee` is charged once when a quantity reaches the tier."""

    up_to: int | None
    unit_price: Decimal
    flat_fee: Decimal = Decimal(0)


@dataclass(frozen=True, slots=True)
class ChargeSpec:
    """How one charge of a price plan is priced. Only the fields its model uses may be set
    (each charge model lists them); `ChargeSpecError` says which field is wrong and why."""

    model: ChargeModelKind
    currency: str
    unit_price: Decimal | None = None
    tiers: tuple[Tier, ...] = ()
    package_size: int | None = None
    package_price: Decimal | None = None
    flat_fee: Decimal | None = None
    pooled: bool = False
    counting_rule: CountingRuleKind | None = None

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "model", ChargeModelKind(self.model))
        except ValueError as exc:
            choices = ", ".join(ChargeModelKind)
            raise ChargeSpecError(
                f"Unknown charge model {self.model!r}: use one of {choices}.", "model"
            ) from exc
        try:
            check_currency(self.currency)
        except ValueError as exc:
            raise ChargeSpecError(str(exc), "currency") from exc
        if self.counting_rule is not None:
            try:
                object.__setattr__(self, "counting_rule", CountingRuleKind(self.counting_rule))
            except ValueError as exc:
                choices = ", ".join(CountingRuleKind)
                raise ChargeSpecError(
                    f"Unknown counting rule {self.counting_rule!r}: use one of {choices}.",
                    "counting_rule",
                ) from exc
        object.__setattr__(self, "tiers", tuple(self.tiers))
        self._check_shapes()
        # The model decides which fields it needs (the registry is the only branch on the kind);
        # imported here because the charge models import this module.
        from billing.rating.charge_models import charge_model

        charge_model(self.model).validate(self)

    def _check_shapes(self) -> None:
        if self.unit_price is not None:
            _price(self.unit_price, "The unit price", "unit_price")
        if self.package_price is not None:
            _price(self.package_price, "The package price", "package_price")
        if self.flat_fee is not None:
            _price(self.flat_fee, "The flat fee", "flat_fee")
        if self.package_size is not None and (
            not isinstance(self.package_size, int)
            or isinstance(self.package_size, bool)
            or self.package_size < 1
        ):
            raise ChargeSpecError(
                f"The package size must be a whole number of units, at least 1 "
                f"(not {self.package_size!r}).",
                "package_size",
            )
        previous = 0
        for index, tier in enumerate(self.tiers):
            number = index + 1
            if not isinstance(tier, Tier):
                raise ChargeSpecError(f"Tier {number} is not a Tier.", "tiers")
            _price(tier.unit_price, f"Tier {number}'s unit price", "tiers")
            _price(tier.flat_fee, f"Tier {number}'s flat fee", "tiers")
            last = index == len(self.tiers) - 1
            if tier.up_to is None:
                if not last:
                    raise ChargeSpecError(
                        f"Only the last tier can be unbounded (tier {number} has no up_to).",
                        "tiers",
                    )
                continue
            if last:
                raise ChargeSpecError(
                    "The last tier must be unbounded (up_to null) so every quantity has a tier.",
                    "tiers",
                )
            if not isinstance(tier.up_to, int) or isinstance(tier.up_to, bool):
                raise ChargeSpecError(
                    f"Tier {number}'s up_to must be a whole number of units.", "tiers"
                )
            if tier.up_to <= previous:
                raise ChargeSpecError(
                    f"Tiers must ascend: tier {number} goes up to {tier.up_to}, "
                    f"which is not above {previous}.",
                    "tiers",
                )
            previous = tier.up_to


@dataclass(frozen=True, slots=True)
class TierAmount:
    """One tier's share of a priced quantity, exact (not rounded): `units` in
    (from_units, up_to], amount = units × unit_price + flat_fee."""

    from_units: int
    up_to: int | None
    units: Decimal
    unit_price: Decimal
    flat_fee: Decimal
    amount: Decimal


@dataclass(frozen=True, slots=True)
class PricedQuantity:
    """A quantity priced by a charge model.

    `amount` is the line amount: the exact amount rounded once, half up, to the currency's minor
    unit (the only rounding in pricing). `exact_amount` and `tier_breakdown` stay exact, so
    Σ tier amounts == exact_amount. `unit_price_effective` is exact_amount / quantity to
    UNIT_PRICE_PLACES (a per-unit charge shows its own unit price); 0 for a zero quantity, and the
    fee itself for a flat charge."""

    amount: Decimal
    exact_amount: Decimal
    unit_price_effective: Decimal
    tier_breakdown: tuple[TierAmount, ...] = ()
