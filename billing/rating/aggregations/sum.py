from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from billing.rating.aggregations.base import Aggregation, SqlAggregate, SqlColumns
from billing.rating.types import AggregationKind, UsageEvent, exact_arithmetic


class SumAggregation(Aggregation):
    kind = AggregationKind.SUM

    def aggregate(self, events: Sequence[UsageEvent]) -> Decimal:
        with exact_arithmetic():  # a long sum must not lose digits to the default 28
            return sum((event.quantity for event in events), Decimal(0))

    def sql(self, columns: SqlColumns = SqlColumns()) -> SqlAggregate:  # noqa: B008
        return SqlAggregate(f"COALESCE(SUM({columns.quantity}), 0)")
