"""TOTP two-factor with real codes: setup, the sign-in step, the vendor policy, turning it off."""

from __future__ import annotations

import pytest
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_tenants.utils import schema_context

from accounts.models import User
from core.models import AuditEntry
from tenancy.models import Vendor
from tests.conftest import host_client

from .conftest import (
    code_for,
    confirmed_device,
    make_user,
    reload_device,
    sign_in,
    signed_in_client,
    wrong_code_for,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def no_otp_throttle(settings):
    # django-otp makes you wait 1 s after a wrong code; the tests that retry at once skip that.
    settings.OTP_TOTP_THROTTLE_FACTOR = 0


def _devices(tv, email) -> list[tuple[str, bool]]:
    with schema_context(tv.schema):
        return list(TOTPDevice.objects.filter(user__email=email).values_list("name", "confirmed"))


def _require_2fa(tv, required: bool = True) -> None:
    with schema_context("public"):
        Vendor.objects.filter(pk=tv.vendor.pk).update(require_console_2fa=required)


def test_setup_shows_qr_svg_and_secret_and_confirms_with_a_real_code(admin_a, vendor_a):
    page = admin_a.get("/accounts/two-factor/setup/")
    assert page.status_code == 200
    body = page.content.decode()
    assert "<svg" in body and 'role="img"' in body
    assert _devices(vendor_a, vendor_a.admin_email) == [("Authenticator app", False)]
    # A second visit keeps the same pending device (a scanned code stays valid).
    assert admin_a.get("/accounts/two-factor/setup/").context["secret"] == page.context["secret"]
    with schema_context(vendor_a.schema):
        device = TOTPDevice.objects.get(user__email=vendor_a.admin_email)
    from base64 import b32encode

    assert page.context["secret"].replace(" ", "") == b32encode(device.bin_key).decode()
    response = admin_a.post("/accounts/two-factor/setup/", {"code": code_for(device)})
    assert response.status_code == 302
    assert _devices(vendor_a, vendor_a.admin_email) == [("Authenticator app", True)]
    with schema_context(vendor_a.schema):
        assert AuditEntry.objects.filter(action="user.two_factor_enabled").count() == 1
    # The session that confirmed the code counts as verified.
    assert admin_a.get("/console/").status_code == 200


def test_setup_refuses_a_wrong_code(admin_a, vendor_a):
    admin_a.get("/accounts/two-factor/setup/")
    with schema_context(vendor_a.schema):
        device = TOTPDevice.objects.get(user__email=vendor_a.admin_email)
    response = admin_a.post("/accounts/two-factor/setup/", {"code": wrong_code_for(device)})
    assert response.status_code == 200
    assert "That code is not correct." in response.content.decode()
    assert _devices(vendor_a, vendor_a.admin_email) == [("Authenticator app", False)]
    malformed = admin_a.post("/accounts/two-factor/setup/", {"code": "12ab"})
    assert "Enter the 6 digits" in malformed.content.decode()


def test_login_with_a_device_requires_the_code_before_anything(client_a, vendor_a):
    with schema_context(vendor_a.schema):
        user = User.objects.get(email=vendor_a.admin_email)
    device = confirmed_device(vendor_a, user)
    response = sign_in(client_a, vendor_a.admin_email, next="/console/users/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/two-factor/verify/?next=%2Fconsole%2Fusers%2F"
    # Every page but the verify step (and logout) redirects there.
    for path in ("/console/", "/accounts/me/", "/console/users/", "/"):
        blocked = client_a.get(path)
        assert blocked.status_code == 302, path
        assert blocked["Location"].startswith("/accounts/two-factor/verify/?next="), path
    assert client_a.get("/accounts/two-factor/verify/").status_code == 200
    verify = client_a.post(
        "/accounts/two-factor/verify/",
        {"code": code_for(device), "next": "/console/users/"},
    )
    assert verify.status_code == 302
    assert verify["Location"] == "/console/users/"
    assert client_a.get("/console/users/").status_code == 200


def test_wrong_totp_code_is_refused_at_sign_in(no_otp_throttle, client_a, vendor_a):
    with schema_context(vendor_a.schema):
        user = User.objects.get(email=vendor_a.admin_email)
    device = confirmed_device(vendor_a, user)
    sign_in(client_a, vendor_a.admin_email)
    response = client_a.post("/accounts/two-factor/verify/", {"code": wrong_code_for(device)})
    assert response.status_code == 200
    assert "That code is not correct." in response.content.decode()
    assert client_a.get("/console/").status_code == 302
    assert reload_device(vendor_a, device).throttling_failure_count == 1
    # The right code still works afterwards, once.
    code = code_for(device)
    assert client_a.post("/accounts/two-factor/verify/", {"code": code}).status_code == 302
    assert client_a.get("/console/").status_code == 200


def test_a_code_is_accepted_once(no_otp_throttle, vendor_a):
    with schema_context(vendor_a.schema):
        user = User.objects.get(email=vendor_a.admin_email)
    device = confirmed_device(vendor_a, user)
    code = code_for(device)
    first = host_client(vendor_a.host)
    sign_in(first, vendor_a.admin_email)
    assert first.post("/accounts/two-factor/verify/", {"code": code}).status_code == 302
    second = host_client(vendor_a.host)
    sign_in(second, vendor_a.admin_email)
    replay = second.post("/accounts/two-factor/verify/", {"code": code})
    assert replay.status_code == 200
    assert "That code is not correct." in replay.content.decode()


def test_repeated_wrong_codes_are_throttled(settings, client_a, vendor_a):
    settings.OTP_TOTP_THROTTLE_FACTOR = 600
    with schema_context(vendor_a.schema):
        user = User.objects.get(email=vendor_a.admin_email)
    device = confirmed_device(vendor_a, user)
    sign_in(client_a, vendor_a.admin_email)
    client_a.post("/accounts/two-factor/verify/", {"code": wrong_code_for(device)})
    response = client_a.post("/accounts/two-factor/verify/", {"code": code_for(device)})
    assert response.status_code == 200
    assert "Too many wrong codes. Wait" in response.content.decode()
    assert client_a.get("/console/").status_code == 302


def test_required_2fa_sends_console_user_without_device_to_setup(vendor_a):
    make_user(vendor_a, "cm@vendor-a.example")
    _require_2fa(vendor_a)
    client = signed_in_client(vendor_a, "cm@vendor-a.example")
    response = client.get("/console/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/two-factor/setup/?next=%2Fconsole%2F"
    setup = client.get(response["Location"])
    assert setup.status_code == 200
    assert "requires two-factor authentication" in setup.content.decode()
    with schema_context(vendor_a.schema):
        device = TOTPDevice.objects.get(user__email="cm@vendor-a.example")
    done = client.post(
        "/accounts/two-factor/setup/", {"code": code_for(device), "next": "/console/"}
    )
    assert done.status_code == 302
    assert done["Location"] == "/console/"
    assert client.get("/console/").status_code == 200


def test_required_2fa_does_not_concern_partner_users(vendor_a):
    make_user(vendor_a, "tech@msp.example", role="")
    _require_2fa(vendor_a)
    client = signed_in_client(vendor_a, "tech@msp.example")
    assert client.get("/portal/").status_code == 200


def test_disable_needs_a_current_code(no_otp_throttle, vendor_a):
    with schema_context(vendor_a.schema):
        user = User.objects.get(email=vendor_a.admin_email)
    device = confirmed_device(vendor_a, user)
    client = host_client(vendor_a.host)
    sign_in(client, vendor_a.admin_email)
    client.post("/accounts/two-factor/verify/", {"code": code_for(device)})
    device = reload_device(vendor_a, device)
    wrong = client.post("/accounts/two-factor/disable/", {"code": wrong_code_for(device)})
    assert wrong.status_code == 200
    assert "That code is not correct." in wrong.content.decode()
    assert _devices(vendor_a, vendor_a.admin_email) == [("phone", True)]
    # The sign-in used this period's code; the app's next code is the one to use now.
    right = client.post("/accounts/two-factor/disable/", {"code": code_for(device, 1)})
    assert right.status_code == 302
    assert _devices(vendor_a, vendor_a.admin_email) == []
    with schema_context(vendor_a.schema):
        assert AuditEntry.objects.filter(action="user.two_factor_disabled").count() == 1


def test_disable_is_refused_while_the_vendor_requires_2fa(vendor_a):
    with schema_context(vendor_a.schema):
        user = User.objects.get(email=vendor_a.admin_email)
    device = confirmed_device(vendor_a, user)
    _require_2fa(vendor_a)
    client = host_client(vendor_a.host)
    sign_in(client, vendor_a.admin_email)
    client.post("/accounts/two-factor/verify/", {"code": code_for(device)})
    page = client.get("/accounts/two-factor/disable/")
    assert "cannot be turned off" in page.content.decode()
    response = client.post("/accounts/two-factor/disable/", {"code": code_for(device, 1)})
    assert response.status_code == 403
    assert _devices(vendor_a, vendor_a.admin_email) == [("phone", True)]


def test_security_page_sets_the_vendor_policy(admin_a, vendor_a):
    page = admin_a.get("/console/settings/security/")
    assert page.status_code == 200
    assert "Require two-factor for all console users" in page.content.decode()
    response = admin_a.post("/console/settings/security/", {"require_console_2fa": "on"})
    assert response.status_code == 302
    assert response["Location"] == "/console/settings/security/"
    with schema_context("public"):
        assert Vendor.objects.get(pk=vendor_a.vendor.pk).require_console_2fa is True
    with schema_context(vendor_a.schema):
        entry = AuditEntry.objects.get(action="vendor.2fa_policy_changed")
        assert entry.after == {"require_console_2fa": True}
    # The admin has no device yet, so the next page sends them to set one up.
    assert admin_a.get("/console/").headers["Location"].startswith("/accounts/two-factor/setup/")


def test_operator_with_a_device_verifies_on_the_platform_host(platform_client):
    with schema_context("public"):
        operator = User.objects.get(email="operator@platform.example")
        device = TOTPDevice.objects.create(user=operator, name="phone", confirmed=True)
    response = sign_in(platform_client, "operator@platform.example")
    assert response["Location"] == "/accounts/two-factor/verify/?next=%2Foperator%2F"
    assert platform_client.get("/operator/").status_code == 302
    with schema_context("public"):
        code = code_for(device)
    assert platform_client.post("/accounts/two-factor/verify/", {"code": code}).status_code == 302
    assert platform_client.get("/operator/").status_code == 200


def test_logout_stays_reachable_before_the_code(client_a, vendor_a):
    with schema_context(vendor_a.schema):
        user = User.objects.get(email=vendor_a.admin_email)
    confirmed_device(vendor_a, user)
    sign_in(client_a, vendor_a.admin_email)
    response = client_a.post("/accounts/logout/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/"
    assert client_a.get("/console/")["Location"] == "/accounts/login/?next=/console/"
