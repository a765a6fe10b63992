"""Independent reference implementations for the property tests: written differently from the
engine on purpose (unit-by-unit loops, brute force, Fractions, day-by-day expansion), slow and
obvious rather than fast."""

from __future__ import annotations

import calendar
import heapq
from datetime import date, timedelta
from fractions import Fraction

PLACES = {"EUR": 2, "JPY": 0, "KWD": 3}


def ref_round(value: Fraction, currency: str) -> Fraction:
    """Half away from zero, by hand (no decimal module)."""
    scale = 10 ** PLACES[currency]
    scaled = abs(value) * scale
    whole = int(scaled)  # floor for non-negative
    if scaled - whole >= Fraction(1, 2):
        whole += 1
    return Fraction(whole if value >= 0 else -whole, scale)


def tier_index_of_unit(tiers, unit_end: Fraction) -> int:
    """The tier a slice of units ending at `unit_end` (exclusive lower, inclusive upper) lies in."""
    lower = 0
    for index, (up_to, _, _) in enumerate(tiers):
        if up_to is None or (lower < unit_end <= up_to):
            return index
        lower = up_to
    raise AssertionError


def ref_graduated(tiers, quantity: Fraction, step: Fraction = Fraction(1)) -> Fraction:
    """Walk the quantity in slices of `step` (quantity a multiple of it, bounds whole numbers)."""
    amount = Fraction(0)
    reached = set()
    position = Fraction(0)
    while position < quantity:
        position += step
        index = tier_index_of_unit(tiers, position)
        amount += step * Fraction(tiers[index][1])
        reached.add(index)
    return amount + sum((Fraction(tiers[i][2]) for i in reached), Fraction(0))


def ref_volume(tiers, quantity: Fraction, step: Fraction = Fraction(1)) -> Fraction:
    """Walk to the last slice; its tier prices every unit."""
    if quantity == 0:
        return Fraction(0)
    position = Fraction(0)
    index = 0
    while position < quantity:
        position += step
        index = tier_index_of_unit(tiers, position)
    return quantity * Fraction(tiers[index][1]) + Fraction(tiers[index][2])


def ref_package(size: int, price, quantity: Fraction) -> Fraction:
    blocks = 0
    covered = 0
    while covered < quantity:
        blocks += 1
        covered += size
    return blocks * Fraction(price)


def ref_allocate(total_minor: int, quantities: dict[int, Fraction]) -> dict[int, int]:
    """Hand out the minor units one at a time, each to the client furthest below its exact share
    (ties: lower id) — the same outcome as largest remainders, reached a different way."""
    pool = sum(quantities.values(), Fraction(0))
    allocation = dict.fromkeys(quantities, 0)
    if pool == 0:
        return allocation
    shares = {c: total_minor * q / pool for c, q in quantities.items()}
    heap = [(-shares[c], c) for c in quantities]
    heapq.heapify(heap)
    for _ in range(total_minor):
        deficit, client = heapq.heappop(heap)
        allocation[client] += 1
        heapq.heappush(heap, (deficit + 1, client))
    return allocation


def ref_days(year: int, month: int, started_on: date, ended_on: date | None, changes):
    """The quantity billed on each day of the month (0 outside the subscription)."""
    days = calendar.monthrange(year, month)[1]
    result = []
    for offset in range(days):
        day = date(year, month, 1) + timedelta(days=offset)
        subscribed = started_on <= day and (ended_on is None or day <= ended_on)
        quantity = 0
        for effective_on, q in changes:  # recorded order: a later same-day change wins
            if effective_on <= day:
                latest = max(c[0] for c in changes if c[0] <= day)
                if effective_on == latest:
                    quantity = q
        result.append(quantity if subscribed else 0)
    return result


def ref_average(*args) -> Fraction:
    per_day = ref_days(*args)
    return Fraction(sum(per_day), len(per_day))


def ref_peak(year, month, started_on, ended_on, changes) -> int:
    per_day = ref_days(year, month, started_on, ended_on, changes)
    subscribed = [
        q
        for offset, q in enumerate(per_day)
        if started_on <= date(year, month, 1) + timedelta(days=offset)
        and (ended_on is None or date(year, month, 1) + timedelta(days=offset) <= ended_on)
    ]
    return max(subscribed, default=0)


def ref_snapshot(year, month, started_on, ended_on, changes) -> int:
    days = calendar.monthrange(year, month)[1]
    last = date(year, month, days)
    day = last if ended_on is None or ended_on > last else ended_on
    if day < date(year, month, 1) or day < started_on:
        return 0
    return ref_days(year, month, started_on, ended_on, changes)[day.day - 1]
