from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from billing.rating.aggregations import AGGREGATIONS, SqlColumns, aggregation_for
from billing.rating.types import AggregationKind, UsageEvent

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def event(quantity, minutes=0, event_id="", **properties):
    return UsageEvent(D(quantity), T0 + timedelta(minutes=minutes), properties, event_id)


EVENTS = [
    event("2.5", 0, "a", device="d1"),
    event("7", 30, "b", device="d2"),
    event("1", 10, "c", device="d1"),
    event("4", 30, "a", device=42),
    event("3", 20, "d"),  # no device
    event("0", 5, "e", device=None),
]


def test_registry_maps_every_kind_to_its_class():
    assert {kind: cls.__name__ for kind, cls in AGGREGATIONS.items()} == {
        "sum": "SumAggregation",
        "count": "CountAggregation",
        "max": "MaxAggregation",
        "unique_count": "UniqueCountAggregation",
        "latest": "LatestAggregation",
    }
    assert set(AGGREGATIONS) == set(AggregationKind)


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("sum", D("17.5")),
        ("count", D(6)),
        ("max", D(7)),
        ("unique_count", D(3)),  # d1, d2, 42 — missing and null are not values
        ("latest", D(7)),  # two events at +30 min: event_id "b" > "a" wins
    ],
)
def test_worked_examples(kind, expected):
    aggregation = aggregation_for(kind, "device" if kind == "unique_count" else None)
    assert aggregation.aggregate(EVENTS) == expected
    assert aggregation.aggregate([]) == D(0)


def test_unique_count_matches_sql_text_forms():
    events = [
        event(1, device="42"),
        event(1, device=42),
        event(1, device=True),
        event(1, device="true"),
        event(1, device="x"),
    ]
    assert aggregation_for("unique_count", "device").aggregate(events) == D(3)


def test_latest_is_independent_of_input_order():
    latest = aggregation_for("latest")
    assert latest.aggregate(list(reversed(EVENTS))) == D(7)
    assert latest.aggregate([event("5", 0, "z"), event("6", 0, "y")]) == D(5)


def test_sql_fragments():
    fragments = {
        kind: aggregation_for(kind, "device" if kind == "unique_count" else None).sql()
        for kind in AggregationKind
    }
    assert {k: (f.sql, f.params) for k, f in fragments.items()} == {
        "sum": ("COALESCE(SUM(quantity), 0)", ()),
        "count": ("COUNT(*)", ()),
        "max": ("COALESCE(MAX(quantity), 0)", ()),
        # The value ingest copied out of properties->>'device' (an index column).
        "unique_count": ("COUNT(DISTINCT unique_value)", ()),
        "latest": (
            "COALESCE((ARRAY_AGG(quantity ORDER BY timestamp DESC, "
            'event_id COLLATE "C" DESC))[1], 0)',
            (),
        ),
    }
    columns = SqlColumns(
        quantity="e.qty", timestamp="e.ts", event_id="e.eid", properties="e.p", unique_value="e.u"
    )
    assert aggregation_for("latest").sql(columns).sql == (
        'COALESCE((ARRAY_AGG(e.qty ORDER BY e.ts DESC, e.eid COLLATE "C" DESC))[1], 0)'
    )
    assert aggregation_for("unique_count", "x").sql(columns).sql == "COUNT(DISTINCT e.u)"


def test_property_is_required_exactly_for_unique_count():
    with pytest.raises(ValueError, match="needs the property"):
        aggregation_for("unique_count")
    with pytest.raises(ValueError, match="does not count a property"):
        aggregation_for("sum", "device")
    with pytest.raises(ValueError):
        aggregation_for("median")


EVENT_LISTS = st.lists(
    st.builds(
        event,
        st.decimals(min_value=0, max_value=10**6, places=3),
        st.integers(min_value=0, max_value=50),
        st.text(alphabet="abcd", min_size=1, max_size=2),
        device=st.one_of(st.none(), st.integers(0, 5), st.sampled_from(["0", "1", "x"])),
    ),
    max_size=30,
    unique_by=lambda e: e.event_id,  # event ids are unique per tenant
)


@settings(max_examples=200, deadline=None)
@given(EVENT_LISTS)
def test_aggregations_match_naive_loops(events):
    total, biggest, values, best = D(0), D(0), set(), None
    for e in events:
        total += e.quantity
        biggest = e.quantity if e.quantity > biggest else biggest
        if e.properties["device"] is not None:
            values.add(str(e.properties["device"]))
        if best is None or (e.timestamp, e.event_id) >= (best.timestamp, best.event_id):
            best = e
    assert aggregation_for("sum").aggregate(events) == total
    assert aggregation_for("count").aggregate(events) == len(events)
    assert aggregation_for("max").aggregate(events) == biggest
    assert aggregation_for("unique_count", "device").aggregate(events) == len(values)
    assert aggregation_for("latest").aggregate(events) == (best.quantity if best else 0)
