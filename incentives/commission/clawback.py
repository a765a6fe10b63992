"""How much commission each credit note takes back (pure).

Per group (invoice, product) the accrued commission A was computed from basis B at rate r and
multiplier m. Credit notes credit net amounts C of the group: through its lines, or — a
whole-invoice credit note (no invoice line) — a share of its amount, allocated over the
invoice's groups in proportion to what is still uncredited in each (largest remainder, in minor
units, so the shares add up to the amount exactly and a credit of everything that is left
credits every group in full).

The cumulative clawback after a credit note is

    T(C) = A                                  when C ≥ B (the group is credited in full)
    T(C) = min(A, round_money(C × r / 100 × m))  otherwise

and each credit note takes T(after) − T(before). T never decreases as C grows, so no credit
note gives commission back, the clawbacks of a group never exceed A, and a group credited in
full (in any number of steps) is clawed back to exactly zero. A group that accrued nothing
(A ≤ 0: nothing was accrued yet, e.g. an unpaid invoice on the collected basis) has nothing to
claw back.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from core.money import ZERO, from_minor_units, round_money, to_minor_units

GroupKey = Hashable


@dataclass(frozen=True, slots=True)
class GroupCommission:
    basis: Decimal  # B: Σ net of the group's lines
    accrued: Decimal  # A: commission accrued on it (0 when none)
    rate_pct: Decimal
    multiplier: Decimal


@dataclass(frozen=True, slots=True)
class CreditFact:
    """One credit note: its line credits per group, and its whole-invoice amount (0 if none)."""

    key: Hashable
    line_credits: Mapping[GroupKey, Decimal] = field(default_factory=dict)
    whole_amount: Decimal = ZERO


def _sort_key(group: GroupKey) -> tuple[int, str]:
    return (0, f"{group!r}") if group is None else (1, f"{group!r}")


def allocate_whole_credit(
    amount: Decimal, remaining: Mapping[GroupKey, Decimal], currency: str
) -> dict[GroupKey, Decimal]:
    """`amount` split over groups in proportion to their positive `remaining` (largest
    remainder in minor units; ties to the group listed first in a stable order). When `amount`
    ≥ Σ remaining, every group gets its remaining (the excess is not allocated)."""
    positive = {g: r for g, r in remaining.items() if r > 0}
    total = sum(positive.values(), ZERO)
    if amount <= 0 or total <= 0:
        return {}
    if amount >= total:
        return dict(positive)
    units = to_minor_units(amount, currency)
    weights = {g: to_minor_units(r, currency) for g, r in positive.items()}
    weight_total = sum(weights.values())
    shares: dict[GroupKey, int] = {}
    fractions: list[tuple[int, tuple[int, str], GroupKey]] = []
    for group, weight in weights.items():
        share, rest = divmod(units * weight, weight_total)
        shares[group] = share
        fractions.append((-rest, _sort_key(group), group))
    leftover = units - sum(shares.values())
    for _, _, group in sorted(fractions)[:leftover]:
        shares[group] += 1
    return {g: from_minor_units(s, currency) for g, s in shares.items() if s}


def _target(group: GroupCommission, credited: Decimal, currency: str) -> Decimal:
    if group.accrued <= 0 or credited <= 0:
        return ZERO
    if credited >= group.basis:
        return group.accrued
    raw = round_money(credited * group.rate_pct.scaleb(-2) * group.multiplier, currency)
    return min(group.accrued, raw)


def clawback_schedule(
    groups: Mapping[GroupKey, GroupCommission],
    credits: Sequence[CreditFact],
    currency: str,
) -> dict[Hashable, dict[GroupKey, Decimal]]:
    """Credit note key → group → the commission it takes back (≥ 0), credit notes in the order
    they were issued. Groups a credit names that are unknown are ignored."""
    credited: dict[GroupKey, Decimal] = {g: ZERO for g in groups}
    taken: dict[GroupKey, Decimal] = {g: ZERO for g in groups}
    result: dict[Hashable, dict[GroupKey, Decimal]] = {}
    for credit in credits:
        this: dict[GroupKey, Decimal] = {}
        for group, amount in credit.line_credits.items():
            if group in credited:
                credited[group] += amount
        if credit.whole_amount > 0:
            remaining = {g: groups[g].basis - credited[g] for g in groups}
            for group, share in allocate_whole_credit(
                credit.whole_amount, remaining, currency
            ).items():
                credited[group] += share
        for group, info in groups.items():
            target = _target(info, credited[group], currency)
            step = target - taken[group]
            if step > 0:
                this[group] = step
                taken[group] = target
        result[credit.key] = this
    return result
