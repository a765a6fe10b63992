"""Helpers for the portal client, import, team and console-client tests: partner users with a
role, signed-in test clients on vendor A's host, and partners with clients."""

from __future__ import annotations

from django.db import connection
from django.test import Client as HttpClient
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import schema_context

from accounts.models import User
from partners.models import Partner
from tests.conftest import TestVendor, host_client
from tests.factories import MembershipFactory, PartnerFactory, UserFactory


def member(tv: TestVendor, partner: Partner, role: str = "owner", email: str = "") -> User:
    with schema_context(tv.schema):
        user = UserFactory(**({"email": email} if email else {}))
        MembershipFactory(user=user, partner=partner, role=role)
        return user


def signed_in(tv: TestVendor, user: User) -> HttpClient:
    client = host_client(tv.host)
    with schema_context(tv.schema):
        client.force_login(user)
    return client


def portal_as(tv: TestVendor, partner: Partner, role: str = "owner") -> HttpClient:
    return signed_in(tv, member(tv, partner, role))


def make_partner(tv: TestVendor, **fields) -> Partner:
    with schema_context(tv.schema):
        return PartnerFactory(**fields)


def body(response) -> str:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content).decode()
    return response.content.decode()


def count_queries(client: HttpClient, url: str, data=None, **extra) -> tuple[int, str]:
    """Queries of one GET (a streamed body read to its end), and the body."""
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url, data, **extra)
        assert response.status_code == 200, response.status_code
        text = body(response)
    return len(queries), text
