"""Helpers shared by the application, console-partner, lifecycle and onboarding-view tests."""

from __future__ import annotations

import time

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import schema_context

from accounts.models import User
from partners import spam
from partners.models import Partner, PartnerMembership
from tests.conftest import TestVendor, host_client
from tests.factories import MembershipFactory, UserFactory
from tests.ui.conftest import login, make_user


def aged_token(tv: TestVendor, seconds: float = 10) -> str:
    """A form token served `seconds` ago by `tv`'s application page."""
    with schema_context(tv.schema):
        return spam.form_token(time.time() - seconds)


def console_client(tv: TestVendor, role: str, email: str | None = None):
    """A test client signed in to `tv`'s console with `role`, and the user."""
    user = make_user(tv, email or f"{role}@{tv.vendor.slug}.example", vendor_role=role)
    client = host_client(tv.host)
    login(client, tv, user)
    return client, user


def portal_client(tv: TestVendor, partner: Partner, role: str, email: str | None = None):
    """A test client signed in to `tv`'s portal as a member of `partner` with `role`."""
    with schema_context(tv.schema):
        membership: PartnerMembership = MembershipFactory(
            partner=partner,
            role=role,
            user=UserFactory(email=email or f"{role}-{partner.pk}@msp.example"),
        )
        user: User = membership.user
    client = host_client(tv.host)
    login(client, tv, user)
    return client, user


def count_queries(func) -> int:
    """How many queries `func()` runs."""
    with CaptureQueriesContext(connection) as captured:
        func()
    connection.set_schema_to_public()
    return len(captured.captured_queries)
