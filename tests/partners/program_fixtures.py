"""Helpers for the program, tier and agreement tests: a tier ladder, signed-in console and
portal clients. Call them inside `schema_context(vendor.schema)` unless noted."""

from __future__ import annotations

from decimal import Decimal

from django.test import Client
from django_tenants.utils import schema_context

from accounts.enums import PartnerRole
from accounts.models import User
from core.models import AuditEntry
from partners.enums import SupportSla
from partners.models import Partner, Tier, Track
from tests.conftest import PASSWORD, TestVendor, host_client
from tests.factories import MembershipFactory, TierFactory, UserFactory


def ladder(track: Track) -> dict[str, Tier]:
    """Registered (agreement) < Silver (3 clients) < Gold (€5,000 MRR, 10 clients, 1 technician)."""
    return {
        "registered": TierFactory(
            track=track,
            name="Registered",
            rank=1,
            requires_agreement=True,
            wholesale_discount_pct=Decimal("5.00"),
            commission_rate_pct=Decimal("2.00"),
        ),
        "silver": TierFactory(
            track=track,
            name="Silver",
            rank=2,
            min_active_clients=3,
            requires_agreement=True,
            wholesale_discount_pct=Decimal("10.00"),
            commission_rate_pct=Decimal("5.00"),
            support_sla=SupportSla.PRIORITY,
        ),
        "gold": TierFactory(
            track=track,
            name="Gold",
            rank=3,
            min_mrr=Decimal("5000.00"),
            min_active_clients=10,
            min_certified_technicians=1,
            requires_agreement=True,
            wholesale_discount_pct=Decimal("20.00"),
            commission_rate_pct=Decimal("8.50"),
            growth_bonus_eligible=True,
            support_sla=SupportSla.PREMIUM,
        ),
    }


def console_user(tv: TestVendor, role: str) -> User:
    with schema_context(tv.schema):
        return UserFactory(vendor_role=role)


def signed_in(tv: TestVendor, user: User) -> Client:
    client = host_client(tv.host)
    with schema_context(tv.schema):
        client.force_login(user)
    return client


def console_client(tv: TestVendor, role: str) -> Client:
    return signed_in(tv, console_user(tv, role))


def portal_member(tv: TestVendor, partner: Partner, role: str = PartnerRole.OWNER) -> User:
    with schema_context(tv.schema):
        return MembershipFactory(partner=partner, role=role, user=UserFactory(vendor_role="")).user


def portal_client(tv: TestVendor, partner: Partner, role: str = PartnerRole.OWNER) -> Client:
    return signed_in(tv, portal_member(tv, partner, role))


def audit_actions(tv: TestVendor) -> list[str]:
    with schema_context(tv.schema):
        return list(AuditEntry.objects.order_by("id").values_list("action", flat=True))


__all__ = [
    "PASSWORD",
    "audit_actions",
    "console_client",
    "console_user",
    "ladder",
    "portal_client",
    "portal_member",
    "signed_in",
]
