"""The portal's tier page and home card: every partner role sees its tier, the benefits, exactly
what it lacks for the next tier, and the history; vendor staff and other partners see nothing."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import schema_context

from accounts.enums import PartnerRole, VendorRole
from core.actors import Actor
from partners.services.tiers import tier_evaluate, tier_pin
from tests.factories import ClientFactory, PartnerFactory, TrackFactory

from .program_fixtures import console_client, ladder, portal_client

pytestmark = pytest.mark.django_db
ACTOR = Actor.system("tests")


@pytest.fixture
def world(vendor_a):
    with schema_context(vendor_a.schema):
        track = TrackFactory(name="Managed Services")
        tiers = ladder(track)
        partner = PartnerFactory(track=track, tier=tiers["registered"], name="Acme IT")
        ClientFactory.create_batch(2, partner=partner)
        other = PartnerFactory(track=track, tier=tiers["gold"], name="Other MSP")
    return {"track": track, "tiers": tiers, "partner": partner, "other": other}


@pytest.mark.parametrize("role", list(PartnerRole))
def test_every_role_sees_its_tier_benefits_and_exact_shortfalls(vendor_a, world, role):
    client = portal_client(vendor_a, world["partner"], role)
    response = client.get("/portal/tier/")
    assert response.status_code == 200
    outlook = response.context["outlook"]
    assert (outlook.tier.name, outlook.next_tier.name) == ("Registered", "Silver")
    assert outlook.shortfalls == ("1 more active client",)
    body = response.content.decode()
    assert "Your tier: Registered" in body
    assert "<dt>Wholesale discount</dt><dd>5.00 %</dd>" in body
    assert "Silver needs <strong>1 more active client</strong>." in body
    assert "Other MSP" not in body


def test_the_shortfalls_list_every_missing_requirement(vendor_a, world):
    with schema_context(vendor_a.schema):
        ClientFactory(partner=world["partner"])
        tier_evaluate(partner=world["partner"], actor=ACTOR)  # → Silver
    client = portal_client(vendor_a, world["partner"], PartnerRole.VIEWER)
    body = client.get("/portal/tier/").content.decode()
    assert "Your tier: Silver" in body
    assert (
        "Gold needs <strong>€5,000.00 more MRR, 7 more active clients, "
        "1 more certified technician</strong>."
    ) in body
    assert "Registered → Silver" in body
    assert "Meets Silver: 3 active clients (minimum 3), agreement accepted." in body


def test_a_pinned_tier_hides_the_vendors_reason_and_says_who_set_it(vendor_a, world):
    with schema_context(vendor_a.schema):
        tier_pin(
            partner=world["partner"],
            tier=world["tiers"]["gold"],
            reason="Internal: CEO's friend",
            actor=ACTOR,
        )
    client = portal_client(vendor_a, world["partner"])
    body = client.get("/portal/tier/").content.decode()
    assert "Your tier: Gold" in body
    assert "Set by Vendor A" in body
    assert "CEO" not in body


def test_the_top_tier_says_so(vendor_a, world):
    client = portal_client(vendor_a, world["other"])
    body = client.get("/portal/tier/").content.decode()
    assert "Top tier" in body
    assert "Gold is the highest tier of the Managed Services track." in body


def test_vendor_staff_and_anonymous_users_cannot_open_the_portal_tier_page(vendor_a, world):
    assert console_client(vendor_a, VendorRole.ADMIN).get("/portal/tier/").status_code == 403
    from tests.conftest import host_client

    assert host_client(vendor_a.host).get("/portal/tier/").status_code == 302


def test_home_shows_a_tier_card_for_partner_users_only(vendor_a, world):
    body = portal_client(vendor_a, world["partner"]).get("/portal/").content.decode()
    assert "Your tier: Registered" in body
    assert "Silver needs 1 more active client." in body
    assert "5.00 % wholesale discount · 2.00 % commission · standard support" in body
    staff = console_client(vendor_a, VendorRole.ADMIN).get("/portal/").content.decode()
    assert "Your tier" not in staff


def test_tier_page_query_count_does_not_grow_with_history(vendor_a, world):
    client = portal_client(vendor_a, world["partner"])

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get("/portal/tier/").status_code == 200
        return len(queries)

    count()  # warm up
    baseline = count()
    with schema_context(vendor_a.schema):
        for n in range(3):
            tier_pin(
                partner=world["partner"],
                tier=world["tiers"]["gold" if n % 2 else "silver"],
                reason=f"pin {n}",
                actor=ACTOR,
            )
        ClientFactory.create_batch(5, partner=world["partner"])
    assert count() == baseline
