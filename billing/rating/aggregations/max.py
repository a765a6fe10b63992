from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from billing.rating.aggregations.base import Aggregation, SqlAggregate, SqlColumns
from billing.rating.types import AggregationKind, UsageEvent


class MaxAggregation(Aggregation):
    """The largest quantity of any event (0 with no events)."""

    kind = AggregationKind.MAX

    def aggregate(self, events: Sequence[UsageEvent]) -> Decimal:
        return max((event.quantity for event in events), default=Decimal(0))

    def sql(self, columns: SqlColumns = SqlColumns()) -> SqlAggregate:  # noqa: B008
        return SqlAggregate(f"COALESCE(MAX({columns.quantity}), 0)")
