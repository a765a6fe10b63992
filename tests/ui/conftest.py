from __future__ import annotations

import pytest
from django_tenants.utils import schema_context

from accounts.models import User
from tests.conftest import PASSWORD, TestVendor


def make_user(tv: TestVendor, email: str, vendor_role: str = "", **extra) -> User:
    """A user in the vendor's schema; committed only as far as the test's transaction goes."""
    with schema_context(tv.schema):
        return User.objects.create_user(
            email, PASSWORD, full_name=extra.pop("full_name", ""), vendor_role=vendor_role, **extra
        )


def admin_of(tv: TestVendor) -> User:
    with schema_context(tv.schema):
        return User.objects.get(email=tv.admin_email)


@pytest.fixture
def admin_a(db, vendor_a) -> User:
    return admin_of(vendor_a)


def login(client, tv: TestVendor, user: User) -> None:
    """force_login inside the vendor's schema, where the session row and last_login live."""
    with schema_context(tv.schema):
        client.force_login(user)
