"""Helpers for the accounts tests: users in a vendor's schema, signing in through the real login
form, and real TOTP codes computed from a device's key."""

from __future__ import annotations

import pytest
from django.test import Client
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_tenants.utils import schema_context

from accounts.enums import VendorRole
from accounts.models import User
from tests.conftest import PASSWORD, TestVendor, host_client


def make_user(
    tv: TestVendor,
    email: str,
    *,
    role: str = VendorRole.CHANNEL_MANAGER,
    password: str = PASSWORD,
    **extra,
) -> User:
    with schema_context(tv.schema):
        return User.objects.create_user(email, password, vendor_role=role, **extra)


def sign_in(client: Client, email: str, password: str = PASSWORD, **extra):
    return client.post("/accounts/login/", {"email": email, "password": password, **extra})


def signed_in_client(tv: TestVendor, email: str, password: str = PASSWORD) -> Client:
    client = host_client(tv.host)
    response = sign_in(client, email, password)
    assert response.status_code == 302, response.content.decode()[:2000]
    return client


def code_for(device: TOTPDevice, steps_ahead: int = 0) -> str:
    """The code an authenticator app shows for `device`, now (or `steps_ahead` periods later;
    django-otp accepts each time step once, so a second check in the same period needs the next)."""
    value = totp(
        device.bin_key,
        step=device.step,
        t0=device.t0,
        digits=device.digits,
        drift=device.drift + steps_ahead,
    )
    return f"{value:0{device.digits}d}"


def wrong_code_for(device: TOTPDevice) -> str:
    valid = {code_for(device, offset) for offset in (-1, 0, 1, 2)}
    return next(c for c in ("000000", "111111", "222222", "333333", "444444") if c not in valid)


def confirmed_device(tv: TestVendor, user: User) -> TOTPDevice:
    with schema_context(tv.schema):
        return TOTPDevice.objects.create(user=user, name="phone", confirmed=True)


def reload_device(tv: TestVendor, device: TOTPDevice) -> TOTPDevice:
    with schema_context(tv.schema):
        return TOTPDevice.objects.get(pk=device.pk)


@pytest.fixture
def admin_a(client_a, vendor_a):
    """A client signed in as vendor A's admin."""
    return signed_in_client(vendor_a, vendor_a.admin_email)
