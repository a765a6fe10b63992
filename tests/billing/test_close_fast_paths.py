"""The month-end close's fast paths give what the plain ones would: lines COPY'd as preformatted
text keep every character of their text (tabs, backslashes, newlines, quotes) on a first close
and on a re-rating, and distinct counts aggregated by grouping (several unique_count meters in
one query) equal the pure aggregation of the same events."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django_tenants.utils import tenant_context

from billing.closing.rate import aggregate_usage, period_bounds
from billing.models import InvoiceLine, Meter, PricePlan
from billing.rating.aggregations import aggregation_for
from billing.rating.types import UsageEvent
from billing.services.catalog import meter_create
from tests.billing.closing_support import (
    ACTOR,
    D,
    at,
    build_world,
    close,
    event,
    invoice_rows,
    october_usage,
    report,
)

pytestmark = pytest.mark.django_db

NOV_1 = at(2026, 11, 1, 0, 30)
AWKWARD = 'Back\\up\t"plan"\nnew line \\N \r\x0b\x0c\x08 ünï'


@pytest.fixture
def world(vendor_a):
    with tenant_context(vendor_a.vendor):
        world = build_world()
        october_usage(world)
        yield world


def test_copied_lines_keep_every_character_on_a_first_close_and_a_rerating(world):
    # Straight into the rows (the catalog's forms may refuse some of these characters): the
    # writer must carry whatever the catalog holds.
    PricePlan.objects.filter(pk=world["plan"].pk).update(name=AWKWARD)
    Meter.objects.filter(pk=world["devices"].pk).update(name="Dev\\ices\t", unit="de\nvice")
    period = close(D(2026, 10, 1), NOV_1)
    descriptions = sorted(
        InvoiceLine.objects.filter(invoice__period=period).values_list("description", flat=True)
    )
    # Seats and storage for both clients; devices only for Alpha Clinic (Beta has none).
    assert descriptions == sorted(
        [
            *[f"{AWKWARD}: seats (daily average)", f"{AWKWARD}: Backup storage (GB)"] * 2,
            f"{AWKWARD}: Dev\\ices\t (de\nvice)",
        ]
    )
    first = invoice_rows(period)
    period = close(D(2026, 10, 1), NOV_1)  # from review: merged through the staging table
    assert invoice_rows(period) == first
    pooled = InvoiceLine.objects.filter(invoice__period=period, pooled=True).first()
    assert pooled.tiers == [
        {
            "from": 0,
            "up_to": 100,
            "units": "100",
            "unit_price": "0.1",
            "flat_fee": "0",
            "amount": "10",
        },
        {
            "from": 100,
            "up_to": None,
            "units": "40",
            "unit_price": "0.05",
            "flat_fee": "0",
            "amount": "2",
        },
    ]


def test_distinct_counts_of_several_meters_in_one_query_equal_the_pure_aggregation(world):
    sites = meter_create(
        code="sites",
        name="Sites",
        unit="site",
        aggregation="unique_count",
        unique_property="site",
        actor=ACTOR,
    )
    sent = [
        event("x1", "alpha", "sites", "1", "2026-10-02T00:00:00Z", site="berlin"),
        event("x2", "alpha", "sites", "1", "2026-10-03T00:00:00Z", site="Berlin"),
        event("x3", "alpha", "sites", "1", "2026-10-04T00:00:00Z", site="berlin"),
        event("x4", "alpha", "sites", "1", "2026-10-05T00:00:00Z", site=42),
        event("x5", "alpha", "sites", "1", "2026-10-06T00:00:00Z", site="42"),
        event("x6", "alpha", "sites", "1", "2026-10-07T00:00:00Z", site=None),
        event("x7", "alpha", "sites", "1", "2026-10-08T00:00:00Z"),
        # Another meter's property does not count for this one.
        event("x8", "alpha", "sites", "1", "2026-10-09T00:00:00Z", device_id="laptop-9"),
        event("x9", "beta", "sites", "1", "2026-10-09T00:00:00Z", site=True),
        # Only events without the property: a group that counts 0.
        event("y1", "beta", "devices", "1", "2026-10-10T00:00:00Z"),
        event("y2", "beta", "devices", "1", "2026-10-11T00:00:00Z", device_id=None),
    ]
    assert report(world, *sent)["accepted"] == len(sent)
    bounds = period_bounds(datetime.date(2026, 10, 1))
    partner = world["partner"].pk
    usage = aggregate_usage([partner], bounds, [world["devices"], sites, world["storage"]])

    def pure(client: str, meter) -> Decimal:
        events = [
            UsageEvent(Decimal(e["quantity"]), datetime.datetime.now(datetime.UTC), e["properties"])
            for e in [*sent, *october_events()]
            if e["client"] == client and e["meter"] == meter.code
        ]
        return aggregation_for(meter.aggregation, meter.unique_property).aggregate(events)

    alpha, beta = world["alpha"].pk, world["beta"].pk
    assert usage[(partner, alpha, sites.pk)] == pure("alpha", sites) == Decimal(3)
    assert usage[(partner, beta, sites.pk)] == pure("beta", sites) == Decimal(1)
    assert usage[(partner, alpha, world["devices"].pk)] == Decimal(2)
    assert usage[(partner, beta, world["devices"].pk)] == Decimal(0)
    assert usage[(partner, alpha, world["storage"].pk)] == Decimal(80)
    assert usage[(partner, beta, world["storage"].pk)] == Decimal(60)
    assert (partner, world["cedar"].pk, sites.pk) not in usage


def october_events() -> list[dict]:
    """october_usage's in-period events of billed clients (for the pure side)."""
    return [
        event("d1", "alpha", "devices", "1", "", device_id="laptop-1"),
        event("d2", "alpha", "devices", "1", "", device_id="laptop-2"),
        event("d3", "alpha", "devices", "1", "", device_id="laptop-1"),
    ]
