from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from billing.rating.aggregations.base import Aggregation, SqlAggregate, SqlColumns
from billing.rating.types import AggregationKind, UsageEvent


class CountAggregation(Aggregation):
    """The number of events, whatever their quantities."""

    kind = AggregationKind.COUNT

    def aggregate(self, events: Sequence[UsageEvent]) -> Decimal:
        return Decimal(len(events))

    def sql(self, columns: SqlColumns = SqlColumns()) -> SqlAggregate:  # noqa: B008
        return SqlAggregate("COUNT(*)")
