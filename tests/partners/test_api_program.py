"""/api/v1/tracks/ and /api/v1/tiers/: read-only program data, the same for every key."""

from __future__ import annotations

import pytest

from partners.models import Tier, Track
from tests.partners.api_support import ApiWorld, assert_problem, build_world, patch, post

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(db, vendor_a) -> ApiWorld:
    return build_world(vendor_a)


def test_tracks_oldest_first(world):
    response = world.vendor.get("/api/v1/tracks/")
    assert response.status_code == 200
    assert response.json() == {
        "results": [
            {
                "id": world.track.pk,
                "program": "Acme Partner Program",
                "name": "Managed Services",
                "slug": "managed",
                "description": "",
                "accepts_applications": True,
                "position": 0,
            },
            {
                "id": world.other_track.pk,
                "program": "Acme Partner Program",
                "name": "Resellers",
                "slug": "resell",
                "description": "",
                "accepts_applications": True,
                "position": 1,
            },
        ],
        "next": None,
    }


def test_tiers_with_requirements_and_benefits_as_strings(world):
    response = world.vendor.get("/api/v1/tiers/")
    assert response.status_code == 200
    assert response.json()["results"] == [
        {
            "id": world.registered.pk,
            "track": "managed",
            "track_id": world.track.pk,
            "name": "Registered",
            "rank": 1,
            "requirements": {
                "min_mrr": "0.00",
                "min_active_clients": 0,
                "min_certified_technicians": 0,
                "requires_agreement": False,
            },
            "benefits": {
                "wholesale_discount_pct": "0.00",
                "commission_rate_pct": "0.00",
                "growth_bonus_eligible": False,
                "support_sla": "standard",
            },
        },
        {
            "id": world.gold.pk,
            "track": "managed",
            "track_id": world.track.pk,
            "name": "Gold",
            "rank": 2,
            "requirements": {
                "min_mrr": "5000.00",
                "min_active_clients": 10,
                "min_certified_technicians": 2,
                "requires_agreement": True,
            },
            "benefits": {
                "wholesale_discount_pct": "20.00",
                "commission_rate_pct": "7.50",
                "growth_bonus_eligible": True,
                "support_sla": "premium",
            },
        },
    ]


def test_tiers_filter_by_track(world):
    with world.schema():
        Tier.objects.create(track=world.other_track, name="Reseller Silver", rank=1)
    names = [t["name"] for t in world.vendor.get("/api/v1/tiers/?track=resell").json()["results"]]
    assert names == ["Reseller Silver"]
    assert world.vendor.get("/api/v1/tiers/?track=nope").json()["results"] == []


def test_partner_keys_see_the_whole_program(world):
    vendor_tracks = world.vendor.get("/api/v1/tracks/").json()
    assert world.key_a.get("/api/v1/tracks/").json() == vendor_tracks
    assert world.key_b.get("/api/v1/tiers/").json() == world.vendor.get("/api/v1/tiers/").json()
    gold = world.key_a.get(f"/api/v1/tiers/{world.gold.pk}/")
    assert (gold.status_code, gold.json()["name"]) == (200, "Gold")
    resell = world.key_a.get(f"/api/v1/tracks/{world.other_track.pk}/")
    assert (resell.status_code, resell.json()["slug"]) == (200, "resell")


def test_unknown_ids_are_404(world):
    assert_problem(world.key_a.get("/api/v1/tracks/999999/"), 404)
    assert_problem(world.key_a.get("/api/v1/tiers/999999/"), 404)


@pytest.mark.parametrize("resource", ["tracks", "tiers"])
def test_the_program_is_read_only_through_the_api(world, resource):
    with world.schema():
        before = (list(Track.objects.values()), list(Tier.objects.values()))
    target = world.track if resource == "tracks" else world.gold
    assert_problem(post(world.vendor, f"/api/v1/{resource}/", {"name": "New"}), 405)
    assert_problem(patch(world.vendor, f"/api/v1/{resource}/{target.pk}/", {"name": "X"}), 405)
    assert_problem(world.vendor.delete(f"/api/v1/{resource}/{target.pk}/"), 405)
    with world.schema():
        assert (list(Track.objects.values()), list(Tier.objects.values())) == before
