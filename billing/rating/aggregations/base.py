"""The aggregation interface: a meter's events (one client, one period) → one quantity, in Python
for estimates and tests, and as the SQL aggregate month-end rating runs in PostgreSQL."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import ClassVar

from billing.rating.types import AggregationKind, UsageEvent


@dataclass(frozen=True, slots=True)
class SqlColumns:
    """Column names of the usage-event table (defaults: the names the fragments assume)."""

    quantity: str = "quantity"
    timestamp: str = "timestamp"
    event_id: str = "event_id"
    properties: str = "properties"
    # properties->>(the meter's unique property), kept by ingest for unique_count meters.
    unique_value: str = "unique_value"


@dataclass(frozen=True, slots=True)
class SqlAggregate:
    """An aggregate expression for a GROUP BY (client, meter) query and its parameters, for
    `cursor.execute`'s %s placeholders. It never yields NULL: an empty group aggregates to 0,
    like `aggregate([])`."""

    sql: str
    params: tuple[str, ...] = ()


class Aggregation(ABC):
    kind: ClassVar[AggregationKind]

    def __init__(self, unique_property: str | None = None) -> None:
        if unique_property:
            raise ValueError(f"A {self.kind} meter does not count a property.")

    @abstractmethod
    def aggregate(self, events: Sequence[UsageEvent]) -> Decimal:
        """The quantity of these events (0 for none)."""

    @abstractmethod
    def sql(self, columns: SqlColumns = SqlColumns()) -> SqlAggregate:
        """The same aggregate in PostgreSQL."""

    def distinct_values(self, columns: SqlColumns = SqlColumns()) -> SqlAggregate | None:
        """For an aggregate that is the number of distinct non-null values of one expression
        (`sql()` is `COUNT(DISTINCT expression)`): that expression, so that rating can group by
        it and count the groups — PostgreSQL hashes a GROUP BY but sorts for a DISTINCT inside
        an aggregate. None for any other aggregate."""
        return None
