"""Aggregations: one class per kind; AGGREGATIONS is the only place that branches on the kind."""

from __future__ import annotations

from billing.rating.aggregations.base import Aggregation, SqlAggregate, SqlColumns
from billing.rating.aggregations.count import CountAggregation
from billing.rating.aggregations.latest import LatestAggregation
from billing.rating.aggregations.max import MaxAggregation
from billing.rating.aggregations.sum import SumAggregation
from billing.rating.aggregations.unique_count import UniqueCountAggregation
from billing.rating.types import AggregationKind

AGGREGATIONS: dict[AggregationKind, type[Aggregation]] = {
    aggregation.kind: aggregation
    for aggregation in (
        SumAggregation,
        CountAggregation,
        MaxAggregation,
        UniqueCountAggregation,
        LatestAggregation,
    )
}


def aggregation_for(kind: AggregationKind | str, unique_property: str | None = None) -> Aggregation:
    """The aggregation a meter uses (`unique_property` only for unique_count)."""
    return AGGREGATIONS[AggregationKind(kind)](unique_property)


__all__ = [
    "AGGREGATIONS",
    "Aggregation",
    "CountAggregation",
    "LatestAggregation",
    "MaxAggregation",
    "SqlAggregate",
    "SqlColumns",
    "SumAggregation",
    "UniqueCountAggregation",
    "aggregation_for",
]
