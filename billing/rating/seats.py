"""Seat counting: a subscription's quantity changes → the seat quantity billed for one month.

Days are calendar dates in the vendor's timezone (the caller converts). The quantity in effect on
a day is that of the last change effective on or before it: changes are passed in the order they
were recorded, so of two changes effective the same day the later one counts (the earlier one is
never in effect). Before the first change the quantity is 0. The subscription counts from
`started_on` to `ended_on`, both inclusive (a client churned mid-month is billed to its end date);
days outside it count 0.

- average: Σ over the days of the month of the quantity in effect at the start of the day
  (0 outside the subscription), divided by the days in the month. Exact when that division
  terminates (310 / 31 = 10), otherwise to AVERAGE_PRECISION significant digits; money rounding
  happens only on the priced amount.
- peak: the highest quantity in effect on any day of the month while subscribed (0 if none).
- snapshot: the quantity in effect on the month's last day, or on the end date when the
  subscription ends earlier in the month; 0 when it ends before the month or starts after it.
"""

from __future__ import annotations

import calendar
import decimal
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import ClassVar

from billing.rating.types import CountingRuleKind

# Significant digits of a non-terminating average (Decimal's usual 28): far finer than any price
# can resolve, and short enough that pricing it stays exact (see types.exact_arithmetic).
AVERAGE_PRECISION = 28


@dataclass(frozen=True, slots=True)
class QuantityChange:
    effective_on: date
    quantity: int


@dataclass(frozen=True, slots=True)
class BillingMonth:
    year: int
    month: int

    def __post_init__(self) -> None:
        if not 1 <= self.month <= 12:
            raise ValueError(f"No month {self.month}.")

    @property
    def days(self) -> int:
        return calendar.monthrange(self.year, self.month)[1]

    @property
    def first_day(self) -> date:
        return date(self.year, self.month, 1)

    @property
    def last_day(self) -> date:
        return date(self.year, self.month, self.days)


@dataclass(frozen=True, slots=True)
class SeatSubscription:
    started_on: date
    ended_on: date | None
    changes: tuple[QuantityChange, ...]  # in the order they were recorded

    def __post_init__(self) -> None:
        object.__setattr__(self, "changes", tuple(self.changes))
        if self.ended_on is not None and self.ended_on < self.started_on:
            raise ValueError(f"A subscription cannot end ({self.ended_on}) before it starts.")
        for change in self.changes:
            if isinstance(change.quantity, bool) or not isinstance(change.quantity, int):
                raise TypeError("A seat quantity is a whole number.")
            if change.quantity < 0:
                raise ValueError(f"A seat quantity cannot be negative ({change.quantity}).")

    def segments(self, month: BillingMonth) -> Iterator[tuple[date, date, int]]:
        """(first day, last day, quantity) runs covering the subscribed days of `month`."""
        first = max(self.started_on, month.first_day)
        last = month.last_day if self.ended_on is None else min(self.ended_on, month.last_day)
        if first > last:
            return
        # Stable sort: same-day changes keep their recorded order, so the last one wins below.
        ordered = sorted(self.changes, key=lambda change: change.effective_on)
        quantity = 0
        boundaries: list[tuple[date, int]] = []
        for change in ordered:
            if change.effective_on <= first:
                quantity = change.quantity
            elif change.effective_on <= last:
                if boundaries and boundaries[-1][0] == change.effective_on:
                    boundaries[-1] = (change.effective_on, change.quantity)
                else:
                    boundaries.append((change.effective_on, change.quantity))
        start = first
        for changed_on, new_quantity in boundaries:
            yield start, changed_on - timedelta(days=1), quantity
            start, quantity = changed_on, new_quantity
        yield start, last, quantity


class CountingRule(ABC):
    kind: ClassVar[CountingRuleKind]

    @abstractmethod
    def count(self, subscription: SeatSubscription, month: BillingMonth) -> Decimal:
        """The seat quantity to bill for `month`."""


class Average(CountingRule):
    kind = CountingRuleKind.AVERAGE

    def count(self, subscription: SeatSubscription, month: BillingMonth) -> Decimal:
        seat_days = sum(
            ((last - first).days + 1) * quantity
            for first, last, quantity in subscription.segments(month)
        )
        with decimal.localcontext() as ctx:
            ctx.prec = AVERAGE_PRECISION  # fixed here, whatever the caller's context
            return Decimal(seat_days) / Decimal(month.days)


class Peak(CountingRule):
    kind = CountingRuleKind.PEAK

    def count(self, subscription: SeatSubscription, month: BillingMonth) -> Decimal:
        return Decimal(max((q for _, _, q in subscription.segments(month)), default=0))


class Snapshot(CountingRule):
    kind = CountingRuleKind.SNAPSHOT

    def count(self, subscription: SeatSubscription, month: BillingMonth) -> Decimal:
        segments = list(subscription.segments(month))
        return Decimal(segments[-1][2]) if segments else Decimal(0)


COUNTING_RULES: dict[CountingRuleKind, type[CountingRule]] = {
    rule.kind: rule for rule in (Average, Peak, Snapshot)
}


def count_seats(
    kind: CountingRuleKind | str, subscription: SeatSubscription, month: BillingMonth
) -> Decimal:
    return COUNTING_RULES[CountingRuleKind(kind)]().count(subscription, month)
