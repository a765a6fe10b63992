from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from billing.rating.aggregations.base import Aggregation, SqlAggregate, SqlColumns
from billing.rating.types import AggregationKind, UsageEvent


class LatestAggregation(Aggregation):
    """The quantity of the event with the greatest timestamp; among events with that timestamp,
    the one with the greatest event_id (so re-rating picks the same event every time). 0 with no
    events."""

    kind = AggregationKind.LATEST

    def aggregate(self, events: Sequence[UsageEvent]) -> Decimal:
        if not events:
            return Decimal(0)
        return max(events, key=lambda event: (event.timestamp, event.event_id)).quantity

    def sql(self, columns: SqlColumns = SqlColumns()) -> SqlAggregate:  # noqa: B008
        # COLLATE "C": compare event ids by code point, as Python does, not by the locale.
        order = f'{columns.timestamp} DESC, {columns.event_id} COLLATE "C" DESC'
        return SqlAggregate(f"COALESCE((ARRAY_AGG({columns.quantity} ORDER BY {order}))[1], 0)")
