"""An independent reference for the commission rules, written the simple way: exact rationals
(fractions.Fraction) and plain loops, rounding half up by hand. The property tests check
incentives.commission against it."""

from __future__ import annotations

import datetime
from decimal import Decimal
from fractions import Fraction


def frac(value: Decimal | int) -> Fraction:
    return Fraction(value)


def round_half_up(value: Fraction, places: int) -> Decimal:
    """value rounded to `places` decimals, halves away from zero, as a Decimal."""
    scale = 10**places
    scaled = value * scale
    sign = -1 if scaled < 0 else 1
    magnitude = abs(scaled)
    whole = magnitude.numerator // magnitude.denominator
    if magnitude - whole >= Fraction(1, 2):
        whole += 1
    return Decimal(sign * whole).scaleb(-places).quantize(Decimal(1).scaleb(-places))


def plan_for(plans: list, month: datetime.date):
    eligible = [p for p in plans if p.effective_from <= month]
    eligible.sort(key=lambda p: p.effective_from)
    return eligible[-1] if eligible else None


def rate_for(plan, tier_id, tier_default, product_id) -> Fraction:
    if product_id is not None and product_id in plan.product_rates:
        return frac(plan.product_rates[product_id])
    if tier_id is not None and tier_id in plan.tier_rates:
        return frac(plan.tier_rates[tier_id])
    return frac(tier_default) if tier_default is not None else Fraction(0)


def multiplier_for(bands: list, mrr) -> Fraction:
    reached = sorted(
        (b for b in bands if mrr is not None and b.min_mrr <= mrr), key=lambda b: b.min_mrr
    )
    return frac(reached[-1].multiplier) if reached else Fraction(1)


def commissions(lines, plan, tier_id, tier_default, mrr, places: int) -> dict:
    """(invoice, product) → commission of a partner's lines."""
    basis: dict = {}
    for line in lines:
        key = (line.invoice_id, line.product_id)
        basis[key] = basis.get(key, Fraction(0)) + frac(line.net_amount)
    result = {}
    multiplier = multiplier_for(list(plan.accelerators), mrr)
    for key, total in basis.items():
        rate = rate_for(plan, tier_id, tier_default, key[1])
        result[key] = round_half_up(total * rate / 100 * multiplier, places)
    return result


def growth(mrr, trailing, churned, bands, places: int):
    """(baseline, bonus) or None."""
    if any(m is None for m in trailing):
        return None
    baseline = round_half_up(
        sum(frac(m) - frac(c) for m, c in zip(trailing, churned, strict=True)) / 3, places
    )
    if baseline <= 0:
        return None
    g = frac(mrr) - frac(baseline)
    if g <= 0:
        return None
    pct = g / frac(baseline) * 100
    reached = [b for b in bands if frac(b.min_growth_pct) <= pct]
    if not reached:
        return None
    band = max(reached, key=lambda b: b.min_growth_pct)
    return baseline, round_half_up(g * frac(band.rate_pct) / 100, places)


def new_client_due(month: datetime.date, n: int, billed: set, billed_before: bool) -> bool:
    """Walk the months: the first billed month F must be month − (n − 1), then no gap."""
    billed = {b for b in billed if b <= month}  # later months say nothing about this one
    if billed_before or not billed or n < 1:
        return False
    first = min(billed)
    y, m = first.year, first.month
    expected = []
    for _ in range(n):
        expected.append(datetime.date(y, m, 1))
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return expected[-1] == month and all(e in billed for e in expected)
