"""A vendor of its own for the payments tests that need a live server (localstripe's webhooks,
the browser): committed, so the server thread sees it, and dropped at the end."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from django.db import connection
from django_tenants.utils import schema_context

from accounts.enums import PartnerRole
from core.actors import Actor
from tenancy.middleware import forget_vendor_routing
from tenancy.models import Domain, Vendor
from tenancy.services import schema_name_for, vendor_create
from tests.committed import committed
from tests.factories import MembershipFactory, PartnerFactory, UserFactory

SLUG = "pay-journey"
HOST = f"{SLUG}.localhost"
# localstripe (aiohttp) cannot resolve *.localhost: it posts webhooks to this address, which
# routes to the same vendor.
WEBHOOK_HOST = "127.0.0.1"
OWNER = "owner@pay-journey-msp.example"


@dataclass
class LiveVendor:
    schema: str
    host: str
    partner_id: int


def _drop(schema: str) -> None:
    connection.set_schema_to_public()
    Domain.objects.filter(tenant__slug=SLUG).delete()
    Vendor.objects.filter(slug=SLUG).delete()
    with connection.cursor() as cursor:
        cursor.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    forget_vendor_routing()


def _seed() -> LiveVendor:
    vendor = vendor_create(
        name="Pay Journey",
        slug=SLUG,
        domain=HOST,
        timezone="Europe/Berlin",
        currency="EUR",
        actor=Actor.system("payments tests"),
    )
    Domain.objects.create(domain=WEBHOOK_HOST, tenant=vendor, is_primary=False)
    forget_vendor_routing()
    with schema_context(vendor.schema_name):
        partner = PartnerFactory(name="Harbor MSP", billing_email="ap@harbor.example")
        MembershipFactory(
            partner=partner,
            role=PartnerRole.OWNER,
            user=UserFactory(email=OWNER, full_name="Olga Owner", vendor_role=""),
        )
    return LiveVendor(schema=vendor.schema_name, host=HOST, partner_id=partner.pk)


@pytest.fixture
def live_vendor() -> Iterator[LiveVendor]:
    committed(_drop, schema_name_for(SLUG))  # leftovers of an aborted run
    vendor = committed(_seed)
    yield vendor
    committed(_drop, vendor.schema)
