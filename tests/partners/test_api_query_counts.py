"""List endpoints run the same number of queries for 5 rows as for 60 (no N+1)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.factories import ClientFactory, PartnerFactory, TierFactory, TrackFactory
from tests.partners.api_support import ApiWorld, build_world

pytestmark = pytest.mark.django_db

# SET search_path (the tenant), the key lookup, the page — for partner keys too: reads filter
# by the key's partner id without loading the partner.
MAX_QUERIES = {"vendor": 3, "partner": 3}


@pytest.fixture
def world(db, vendor_a) -> ApiWorld:
    return build_world(vendor_a)


def add_partners(world: ApiWorld, n: int) -> None:
    PartnerFactory.create_batch(n, track=world.track, tier=world.gold)


def add_clients(world: ApiWorld, n: int) -> None:
    ClientFactory.create_batch(n // 2, partner=world.partner_a)
    ClientFactory.create_batch(n - n // 2, partner=world.partner_b)


def add_tracks(world: ApiWorld, n: int) -> None:
    TrackFactory.create_batch(n, program=world.program)


def add_tiers(world: ApiWorld, n: int) -> None:
    for _ in range(n):
        TierFactory(track=TrackFactory(program=world.program))


RESOURCES: dict[str, Callable[[ApiWorld, int], None]] = {
    "partners": add_partners,
    "clients": add_clients,
    "tracks": add_tracks,
    "tiers": add_tiers,
}


def count_queries(client, url: str) -> tuple[int, int]:
    """(queries, rows) of one GET."""
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200, response.content
    return len(queries), len(response.json()["results"])


@pytest.mark.parametrize("resource", RESOURCES)
@pytest.mark.parametrize("key", ["vendor", "partner"])
def test_list_queries_do_not_grow_with_rows(world, resource, key, django_assert_max_num_queries):
    client = world.vendor if key == "vendor" else world.key_a
    url = f"/api/v1/{resource}/?limit=500"
    add = RESOURCES[resource]
    with world.schema():
        add(world, 5)
    client.get(url)  # the key's first use records last_used_at once; measure after it

    few, rows_few = count_queries(client, url)
    with world.schema():
        add(world, 55)
    with django_assert_max_num_queries(MAX_QUERIES[key]):
        many, rows_many = count_queries(client, url)

    assert many == few
    assert rows_many > rows_few or (resource == "partners" and key == "partner")
