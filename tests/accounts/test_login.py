"""Signing in and out, tenant isolation of accounts and sessions, and login throttling."""

from __future__ import annotations

import datetime
from types import SimpleNamespace

import pytest
from django.contrib.auth import SESSION_KEY
from django_tenants.utils import schema_context

from accounts import login_throttle
from accounts.models import User
from tests.conftest import PASSWORD, host_client

from .conftest import make_user, sign_in, signed_in_client

pytestmark = pytest.mark.django_db


def test_login_page_renders_form(client_a):
    response = client_a.get("/accounts/login/")
    assert response.status_code == 200
    body = response.content.decode()
    assert 'name="email"' in body
    assert 'name="password"' in body
    assert 'href="/accounts/password-reset/"' in body


def test_login_with_correct_password_lands_in_console(client_a, vendor_a):
    response = sign_in(client_a, vendor_a.admin_email)
    assert response.status_code == 302
    assert response["Location"] == "/"
    assert client_a.get("/").headers["Location"] == "/console/"
    assert client_a.get("/console/").status_code == 200
    with schema_context(vendor_a.schema):
        assert User.objects.get(email=vendor_a.admin_email).last_login is not None


def test_login_email_is_case_insensitive_and_next_is_honoured(client_a, vendor_a):
    response = sign_in(client_a, vendor_a.admin_email.upper(), next="/console/users/")
    assert response.status_code == 302
    assert response["Location"] == "/console/users/"


def test_login_refuses_offsite_next(client_a, vendor_a):
    response = sign_in(client_a, vendor_a.admin_email, next="https://evil.example/")
    assert response["Location"] == "/"


def test_wrong_password_is_refused_with_message(client_a, vendor_a):
    response = sign_in(client_a, vendor_a.admin_email, "wrong-password")
    assert response.status_code == 200
    assert "The email or password is not correct." in response.content.decode()
    assert SESSION_KEY not in client_a.session


def test_partner_user_lands_in_portal(client_a, vendor_a):
    make_user(vendor_a, "tech@msp.example", role="")
    client = signed_in_client(vendor_a, "tech@msp.example")
    assert client.get("/").headers["Location"] == "/portal/"
    assert client.get("/console/").status_code == 403


def test_inactive_user_cannot_log_in(client_a, vendor_a):
    make_user(vendor_a, "gone@vendor-a.example", is_active=False)
    response = sign_in(client_a, "gone@vendor-a.example")
    assert response.status_code == 200
    assert "The email or password is not correct." in response.content.decode()
    assert SESSION_KEY not in client_a.session


def test_user_of_vendor_a_cannot_log_in_on_vendor_b(client_a, client_b, vendor_a, vendor_b):
    make_user(vendor_a, "only-a@example.com")
    refused = sign_in(client_b, "only-a@example.com")
    assert refused.status_code == 200
    assert "The email or password is not correct." in refused.content.decode()
    assert SESSION_KEY not in client_b.session
    with schema_context(vendor_b.schema):
        assert not User.objects.filter(email="only-a@example.com").exists()
    # …while the same credentials work on A's own host.
    assert sign_in(client_a, "only-a@example.com").status_code == 302


def test_session_cookie_from_vendor_a_is_anonymous_on_vendor_b(vendor_a, vendor_b):
    client_a = signed_in_client(vendor_a, vendor_a.admin_email)
    assert client_a.get("/console/").status_code == 200
    stolen = client_a.cookies["sessionid"].value
    client_b = host_client(vendor_b.host)
    client_b.cookies["sessionid"] = stolen
    response = client_b.get("/console/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/console/"


def test_logout_is_post_only_and_ends_the_session(vendor_a):
    client = signed_in_client(vendor_a, vendor_a.admin_email)
    assert client.get("/accounts/logout/").status_code == 405
    assert client.get("/console/").status_code == 200
    response = client.post("/accounts/logout/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/"
    assert client.get("/console/").status_code == 302


def test_operator_logs_in_on_platform_host(platform_client):
    response = sign_in(platform_client, "operator@platform.example")
    assert response.status_code == 302
    assert response["Location"] == "/operator/"
    assert platform_client.get("/operator/").status_code == 200


def test_vendor_admin_cannot_log_in_on_platform_host(platform_client, vendor_a):
    response = sign_in(platform_client, vendor_a.admin_email)
    assert response.status_code == 200
    assert SESSION_KEY not in platform_client.session


# --- throttling ---------------------------------------------------------------------------------


@pytest.fixture
def three_tries(settings):
    settings.LOGIN_FAILURE_LIMIT = 3
    settings.LOGIN_FAILURE_WINDOW_SECONDS = 600


def test_throttle_locks_after_limit_and_refuses_correct_password(three_tries, client_a, vendor_a):
    with schema_context(vendor_a.schema):
        last_login_before = User.objects.get(email=vendor_a.admin_email).last_login
    for _ in range(2):
        response = sign_in(client_a, vendor_a.admin_email, "wrong-password")
        assert "The email or password is not correct." in response.content.decode()
    third = sign_in(client_a, vendor_a.admin_email, "wrong-password")
    assert "Too many failed sign-in attempts" in third.content.decode()
    assert "try again in 10 minutes" in third.content.decode()

    locked = sign_in(client_a, vendor_a.admin_email, PASSWORD)
    assert locked.status_code == 200
    assert "Too many failed sign-in attempts" in locked.content.decode()
    assert SESSION_KEY not in client_a.session
    with schema_context(vendor_a.schema):
        assert User.objects.get(email=vendor_a.admin_email).last_login == last_login_before


def test_throttle_is_per_email_address_and_vendor(
    three_tries, client_a, client_b, vendor_a, vendor_b
):
    for _ in range(3):
        sign_in(client_a, vendor_a.admin_email, "wrong-password")
    # Another address from the same client is not locked…
    make_user(vendor_a, "other@vendor-a.example")
    assert sign_in(client_a, "other@vendor-a.example").status_code == 302
    # …the same email from another IP is not locked…
    other_ip = host_client(vendor_a.host, REMOTE_ADDR="10.1.2.3")
    assert sign_in(other_ip, vendor_a.admin_email).status_code == 302
    # …and vendor B's counters are its own (same email created in B too).
    make_user(vendor_b, vendor_a.admin_email)
    assert sign_in(client_b, vendor_a.admin_email).status_code == 302
    # The locked pair itself stays locked.
    assert sign_in(host_client(vendor_a.host), vendor_a.admin_email).status_code == 200


def test_successful_login_clears_the_failure_counter(three_tries, vendor_a):
    client = host_client(vendor_a.host)
    sign_in(client, vendor_a.admin_email, "wrong-password")
    sign_in(client, vendor_a.admin_email, "wrong-password")
    assert sign_in(client, vendor_a.admin_email).status_code == 302
    client.post("/accounts/logout/")
    # Two more failures do not lock: the count started again from zero.
    sign_in(client, vendor_a.admin_email, "wrong-password")
    second = sign_in(client, vendor_a.admin_email, "wrong-password")
    assert "Too many failed" not in second.content.decode()
    assert sign_in(client, vendor_a.admin_email).status_code == 302


def test_lock_ends_after_the_window(three_tries, vendor_a, monkeypatch):
    client = host_client(vendor_a.host)
    for _ in range(3):
        sign_in(client, vendor_a.admin_email, "wrong-password")
    with schema_context(vendor_a.schema):
        until = login_throttle.locked_until(vendor_a.admin_email, "127.0.0.1")
    assert until is not None
    # Time passes beyond the lock: the stored end is in the past, so sign-in is allowed again.
    later = until + datetime.timedelta(seconds=1)
    monkeypatch.setattr(login_throttle, "timezone", SimpleNamespace(now=lambda: later))
    assert sign_in(client, vendor_a.admin_email).status_code == 302
