"""Shared by the partners API tests: a small program in vendor A with two partners, and HTTP
clients for a vendor key and for each partner's key."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.test import Client as HttpClient
from django_tenants.utils import schema_context

from core.api.problems import PROBLEM_CONTENT_TYPE
from core.models import AuditEntry
from partners.models import Client, Partner, PartnerStatusChange, Program, Tier, Track
from tests.conftest import TestVendor, host_client, make_api_key
from tests.factories import (
    ClientFactory,
    PartnerFactory,
    ProgramFactory,
    TierFactory,
    TrackFactory,
)


@dataclass
class ApiWorld:
    tv: TestVendor
    program: Program
    track: Track
    other_track: Track
    registered: Tier
    gold: Tier
    partner_a: Partner
    partner_b: Partner
    vendor: HttpClient  # a vendor key: the whole tenant
    key_a: HttpClient  # partner A's key
    key_b: HttpClient  # partner B's key

    def schema(self):
        return schema_context(self.tv.schema)


def api_client(tv: TestVendor, secret: str) -> HttpClient:
    return host_client(tv.host, HTTP_AUTHORIZATION=f"Bearer {secret}")


def build_world(tv: TestVendor) -> ApiWorld:
    with schema_context(tv.schema):
        program = ProgramFactory(name="Acme Partner Program")
        track = TrackFactory(program=program, name="Managed Services", slug="managed")
        other_track = TrackFactory(program=program, name="Resellers", slug="resell", position=1)
        registered = TierFactory(track=track, name="Registered", rank=1)
        gold = TierFactory(
            track=track,
            name="Gold",
            rank=2,
            min_mrr=Decimal("5000.00"),
            min_active_clients=10,
            min_certified_technicians=2,
            requires_agreement=True,
            wholesale_discount_pct=Decimal("20.00"),
            commission_rate_pct=Decimal("7.50"),
            growth_bonus_eligible=True,
            support_sla="premium",
        )
        partner_a = PartnerFactory(
            name="Alpha IT",
            external_id="ALPHA-1",
            track=track,
            tier=registered,
            country="DE",
            billing_email="billing@alpha.example",
        )
        partner_b = PartnerFactory(
            name="Bravo Systems",
            external_id="BRAVO-1",
            track=track,
            tier=gold,
            country="FR",
            billing_email="billing@bravo.example",
            currency="EUR",
        )
    return ApiWorld(
        tv=tv,
        program=program,
        track=track,
        other_track=other_track,
        registered=registered,
        gold=gold,
        partner_a=partner_a,
        partner_b=partner_b,
        vendor=api_client(tv, make_api_key(tv, name="vendor integration")),
        key_a=api_client(tv, make_api_key(tv, name="alpha rmm", partner_id=partner_a.pk)),
        key_b=api_client(tv, make_api_key(tv, name="bravo rmm", partner_id=partner_b.pk)),
    )


def make_client(world: ApiWorld, partner: Partner, **fields) -> Client:
    with world.schema():
        return ClientFactory(partner=partner, **fields)


def assert_problem(response, status: int) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == PROBLEM_CONTENT_TYPE
    body = response.json()
    assert body["status"] == status
    return body


def state(world: ApiWorld) -> dict:
    """Everything a denied request must leave as it was."""
    with world.schema():
        return {
            "partners": list(Partner.objects.order_by("pk").values()),
            "clients": list(Client.objects.order_by("pk").values()),
            "status_changes": PartnerStatusChange.objects.count(),
            "audit": AuditEntry.objects.count(),
        }


def post(client: HttpClient, url: str, data, **extra):
    return client.post(url, data, content_type="application/json", **extra)


def patch(client: HttpClient, url: str, data, **extra):
    return client.patch(url, data, content_type="application/json", **extra)
