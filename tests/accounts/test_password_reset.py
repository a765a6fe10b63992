"""Password reset with Django's views: the link uses the request's host, and a reset on vendor
A's domain only ever concerns A's users."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django_tenants.utils import schema_context

from accounts.models import User

from .conftest import make_user, sign_in

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "a-brand-new-passphrase-42"


def _reset_link(message) -> str:
    match = re.search(r"http://[^\s]+/accounts/password-reset/[^\s]+/", message.body)
    assert match, message.body
    return match.group(0)


def test_reset_email_links_to_the_requesting_vendor_host(client_a, vendor_a):
    response = client_a.post("/accounts/password-reset/", {"email": vendor_a.admin_email})
    assert response.status_code == 302
    assert response["Location"] == "/accounts/password-reset/sent/"
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == [vendor_a.admin_email]
    assert message.subject == "Reset your Vendor A password"
    assert _reset_link(message).startswith("http://vendor-a.localhost/accounts/password-reset/")
    html, mimetype = message.alternatives[0]
    assert mimetype == "text/html"
    assert "http://vendor-a.localhost/accounts/password-reset/" in html


def test_reset_on_vendor_b_ignores_vendor_a_users(client_b, vendor_a):
    response = client_b.post("/accounts/password-reset/", {"email": vendor_a.admin_email})
    # Same answer as for a known address, so the page does not reveal who has an account.
    assert response.status_code == 302
    assert response["Location"] == "/accounts/password-reset/sent/"
    assert mail.outbox == []


def test_full_reset_flow_sets_the_new_password(client_a, vendor_a):
    make_user(vendor_a, "forgetful@vendor-a.example")
    client_a.post("/accounts/password-reset/", {"email": "forgetful@vendor-a.example"})
    link = _reset_link(mail.outbox[0]).removeprefix("http://vendor-a.localhost")
    # Django swaps the token for a session marker and redirects to the set-password form.
    landing = client_a.get(link)
    assert landing.status_code == 302
    form_url = landing["Location"]
    assert client_a.get(form_url).status_code == 200
    weak = client_a.post(form_url, {"new_password1": "123", "new_password2": "123"})
    assert weak.status_code == 200
    assert "This password is too short" in weak.content.decode()
    done = client_a.post(form_url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert done.status_code == 302
    assert done["Location"] == "/accounts/password-reset/complete/"
    with schema_context(vendor_a.schema):
        assert User.objects.get(email="forgetful@vendor-a.example").check_password(NEW_PASSWORD)
    # The link is single-use.
    reused = client_a.get(link, follow=True)
    assert "This link cannot be used" in reused.content.decode()


def test_reset_link_of_vendor_a_does_not_work_on_vendor_b(client_a, client_b, vendor_a, vendor_b):
    client_a.post("/accounts/password-reset/", {"email": vendor_a.admin_email})
    path = _reset_link(mail.outbox[0]).removeprefix("http://vendor-a.localhost")
    response = client_b.get(path, follow=True)
    assert "This link cannot be used" in response.content.decode()
    with schema_context(vendor_b.schema):
        before = User.objects.get(email=vendor_b.admin_email).password
    assert sign_in(client_b, vendor_b.admin_email).status_code == 302
    with schema_context(vendor_b.schema):
        assert User.objects.get(email=vendor_b.admin_email).password == before


def test_reset_emails_are_rate_limited_per_address_without_revealing_it(client_a, vendor_a):
    for _ in range(5):
        response = client_a.post("/accounts/password-reset/", {"email": vendor_a.admin_email})
        # Same answer every time, whether or not an email went out.
        assert (response.status_code, response["Location"]) == (
            302,
            "/accounts/password-reset/sent/",
        )
    assert len(mail.outbox) == 3
    # Another address from the same client is still served.
    other = make_user(vendor_a, "second@vendor-a.example")
    client_a.post("/accounts/password-reset/", {"email": other.email})
    assert [m.to for m in mail.outbox[3:]] == [[other.email]]
