from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from billing.rating.aggregations.base import Aggregation, SqlAggregate, SqlColumns
from billing.rating.types import AggregationKind, UsageEvent


def json_text(value: Any) -> str | None:
    """A property value as PostgreSQL's `properties->>'name'` renders it: strings as themselves,
    booleans as true/false, numbers in decimal, JSON null (or a missing key) as NULL — so the
    Python and SQL aggregates count "42" and 42 as the same value, as the database does. (Objects
    and arrays as values are not rendered the way jsonb does; meters count scalar ids.)"""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class UniqueCountAggregation(Aggregation):
    """The number of distinct values of one event property (e.g. distinct `device_id`s); events
    without the property (or with null) are not counted."""

    kind = AggregationKind.UNIQUE_COUNT

    def __init__(self, unique_property: str | None = None) -> None:
        if not unique_property:
            raise ValueError("A unique_count meter needs the property whose values it counts.")
        self.unique_property = unique_property

    def aggregate(self, events: Sequence[UsageEvent]) -> Decimal:
        values = {json_text(event.properties.get(self.unique_property)) for event in events}
        values.discard(None)
        return Decimal(len(values))

    # In SQL the value is the event's `unique_value`: ingest stores `properties->>property` of
    # a unique_count meter's events there (and the meter's property cannot change while a price
    # plan in effect bills it; when it changes, `meter_update` rewrites the column), so rating
    # reads it from the rating index instead of every event's properties.
    def sql(self, columns: SqlColumns = SqlColumns()) -> SqlAggregate:  # noqa: B008
        return SqlAggregate(f"COUNT(DISTINCT {columns.unique_value})")

    def distinct_values(self, columns: SqlColumns = SqlColumns()) -> SqlAggregate:  # noqa: B008
        return SqlAggregate(columns.unique_value)
