"""Commission rules: the plan in force, the rate, the accelerator and the amount.

A commission is computed per *group*: the lines of one invoice that belong to one product (a
line's product is its meter's product, or — seat lines, or a meter without a product — its price
plan's product, as the margin report reads it; lines with neither form a group of their own).
For each group:

    basis      = Σ net_amount of the group's lines (prior-period adjustment lines included: they
                 are money billed this month)
    rate       = the plan's override for the product, else the plan's rate for the partner's
                 tier, else the tier's own `commission_rate_pct` benefit, else 0
    multiplier = the highest accelerator band whose min_mrr ≤ the partner's MRR of the month
                 (1 without a band); MRR excludes prior-period adjustments
    commission = round_money(basis × rate / 100 × multiplier) — rounded once, half up
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Protocol, TypeVar

from core.money import ZERO, require_decimal, round_money

ONE = Decimal(1)


class _Effective(Protocol):
    effective_from: datetime.date


T = TypeVar("T", bound=_Effective)


@dataclass(frozen=True, slots=True)
class Accelerator:
    min_mrr: Decimal
    multiplier: Decimal


@dataclass(frozen=True, slots=True)
class PlanRules:
    """A commission plan as plain values (tier id → rate %, product id → rate %)."""

    effective_from: datetime.date
    basis: str
    tier_rates: Mapping[int, Decimal] = field(default_factory=dict)
    product_rates: Mapping[int, Decimal] = field(default_factory=dict)
    accelerators: tuple[Accelerator, ...] = ()
    plan_id: int | None = None


@dataclass(frozen=True, slots=True)
class LineFact:
    """What commission needs of one invoice line."""

    invoice_id: int
    product_id: int | None
    net_amount: Decimal
    is_adjustment: bool = False


def in_force(items: Iterable[T], month: datetime.date) -> T | None:
    """The item (plan or rule) with the latest `effective_from` ≤ `month`, or None."""
    best: T | None = None
    for item in items:
        if item.effective_from <= month and (
            best is None or item.effective_from > best.effective_from
        ):
            best = item
    return best


def commission_rate(
    plan: PlanRules,
    *,
    tier_id: int | None,
    tier_default_pct: Decimal | None,
    product_id: int | None,
) -> Decimal:
    """The percentage a group earns: product override, else the plan's tier rate, else the tier's
    own benefit, else 0."""
    if product_id is not None and product_id in plan.product_rates:
        return require_decimal(plan.product_rates[product_id], "rate")
    if tier_id is not None and tier_id in plan.tier_rates:
        return require_decimal(plan.tier_rates[tier_id], "rate")
    if tier_default_pct is not None:
        return require_decimal(tier_default_pct, "rate")
    return ZERO


def accelerator_multiplier(accelerators: Iterable[Accelerator], mrr: Decimal | None) -> Decimal:
    """The multiplier of the highest band reached by `mrr` (1 when none is, or no MRR)."""
    if mrr is None:
        return ONE
    mrr = require_decimal(mrr, "mrr")
    best: Accelerator | None = None
    for band in accelerators:
        if band.min_mrr <= mrr and (best is None or band.min_mrr > best.min_mrr):
            best = band
    return best.multiplier if best is not None else ONE


def commission_amount(
    basis: Decimal, rate_pct: Decimal, multiplier: Decimal, currency: str
) -> Decimal:
    """round_money(basis × rate / 100 × multiplier): exact product, one rounding (half up)."""
    return commission_of(basis, commission_factor(rate_pct, multiplier), currency)


def commission_factor(rate_pct: Decimal, multiplier: Decimal) -> Decimal:
    """rate / 100 × multiplier, exact: what a basis is multiplied by (shared by every group
    with the same rate and accelerator, so a month-end accrual computes it a few times)."""
    return require_decimal(rate_pct, "rate").scaleb(-2) * require_decimal(multiplier, "multiplier")


def commission_of(basis: Decimal, factor: Decimal, currency: str) -> Decimal:
    """round_money(basis × factor) for a factor from `commission_factor`."""
    return round_money(require_decimal(basis, "basis") * factor, currency)


def group_basis(lines: Iterable[LineFact]) -> dict[tuple[int, int | None], Decimal]:
    """(invoice id, product id) → Σ net amount of its lines (adjustments included)."""
    result: dict[tuple[int, int | None], Decimal] = {}
    for line in lines:
        key = (line.invoice_id, line.product_id)
        result[key] = result.get(key, ZERO) + require_decimal(line.net_amount, "net_amount")
    return result


def month_mrr(lines: Iterable[LineFact]) -> Decimal:
    """Monthly recurring revenue of some lines: Σ net amount, prior-period adjustments excluded
    (as billing records it in PartnerMrr at finalize)."""
    return sum((require_decimal(line.net_amount) for line in lines if not line.is_adjustment), ZERO)
