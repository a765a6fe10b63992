"""Growth bonus and new-client bonus (pure).

Churn-adjusted baseline of month M (the convention, see docs/architecture.md "Incentives"):

    baseline(M) = round_money( Σ_{k=1..3} ( MRR(M−k) − churned(M−k) ) / 3 )

where MRR(m) is the partner's recurring revenue of month m (Σ net of its invoice lines,
prior-period adjustments excluded — `PartnerMrr`) and churned(m) is the part of MRR(m) that came
from clients that had churned before M began (status churned, `ended_on` < M). Revenue that has
already left is taken out of the comparison, so the growth measured is that of the book the
partner still has: losing a client last month does not cancel this month's real growth, and
signing it again does not count as growth either. The partner must have been billed in each of
the three months (MRR recorded); otherwise there is no baseline and no growth bonus (a partner's
first months are rewarded by the new-client bonus instead). A baseline ≤ 0 is no baseline.

    growth   = MRR(M) − baseline          growth % = growth / baseline × 100
    bonus    = round_money(growth × rate / 100) of the highest band whose min_growth_pct ≤
               growth %, only when growth > 0 and the partner's tier is growth-bonus eligible.

New-client bonus: a client first billed in month F and billed in every month F … F+N−1 earns the
rule's fixed bonus once, in month F+N−1.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from core.money import ZERO, require_decimal, round_money

HUNDRED = Decimal(100)
TRAILING_MONTHS = 3


@dataclass(frozen=True, slots=True)
class GrowthBand:
    min_growth_pct: Decimal
    rate_pct: Decimal


@dataclass(frozen=True, slots=True)
class GrowthOutcome:
    baseline: Decimal
    growth: Decimal
    growth_pct: Decimal  # for display, 2 decimals (the band was chosen from exact figures)
    band: GrowthBand
    bonus: Decimal


def churn_adjusted_baseline(
    trailing_mrr: Sequence[Decimal | None],
    trailing_churned: Sequence[Decimal],
    currency: str,
) -> Decimal | None:
    """The baseline from the three months before M (oldest first or not: order is irrelevant);
    None when a month has no MRR or the result is not positive."""
    if len(trailing_mrr) != TRAILING_MONTHS or len(trailing_churned) != TRAILING_MONTHS:
        raise ValueError("The baseline needs exactly three trailing months.")
    if any(mrr is None for mrr in trailing_mrr):
        return None
    total = ZERO
    for mrr, churned in zip(trailing_mrr, trailing_churned, strict=True):
        total += require_decimal(mrr, "mrr") - require_decimal(churned, "churned")
    baseline = round_money(total / TRAILING_MONTHS, currency)
    return baseline if baseline > 0 else None


def growth_bonus(
    mrr: Decimal, baseline: Decimal | None, bands: Iterable[GrowthBand], currency: str
) -> GrowthOutcome | None:
    """The growth bonus earned, or None (no baseline, no growth, or no band reached)."""
    if baseline is None or baseline <= 0:
        return None
    growth = require_decimal(mrr, "mrr") - require_decimal(baseline, "baseline")
    if growth <= 0:
        return None
    best: GrowthBand | None = None
    for band in bands:
        # growth / baseline × 100 ≥ min  ⇔  growth × 100 ≥ min × baseline (baseline > 0): exact.
        if growth * HUNDRED >= band.min_growth_pct * baseline and (
            best is None or band.min_growth_pct > best.min_growth_pct
        ):
            best = band
    if best is None:
        return None
    bonus = round_money(growth * best.rate_pct.scaleb(-2), currency)
    pct = (growth * HUNDRED / baseline).quantize(Decimal("0.01"))
    return GrowthOutcome(baseline=baseline, growth=growth, growth_pct=pct, band=best, bonus=bonus)


def months_back(month: datetime.date, count: int) -> datetime.date:
    """The first day of the month `count` months before `month` (count may be 0)."""
    index = month.year * 12 + month.month - 1 - count
    return datetime.date(index // 12, index % 12 + 1, 1)


def new_client_bonus_due(
    *,
    month: datetime.date,
    months_required: int,
    billed_months: Iterable[datetime.date],
    billed_before: bool,
) -> bool:
    """True when a client's bonus falls due in `month`: first billed in F = month − (N − 1)
    (`billed_before`: billed in some month before F) and billed in every month F … month."""
    if months_required < 1:
        return False
    if billed_before:
        return False
    billed = set(billed_months)
    first = months_back(month, months_required - 1)
    if any(m < first for m in billed):
        return False
    return all(months_back(month, k) in billed for k in range(months_required))
