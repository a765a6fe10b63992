"""/accounts/me/: name, read-only email, password change, two-factor status."""

from __future__ import annotations

import pytest
from django_tenants.utils import schema_context

from accounts.models import User
from core.models import AuditEntry
from tests.conftest import PASSWORD

from .conftest import make_user, sign_in, signed_in_client

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "quiet-river-stones-77"


def test_console_user_sees_the_console_layout(admin_a, vendor_a):
    response = admin_a.get("/accounts/me/")
    assert response.status_code == 200
    assert response.context["layout"] == "console/base.html"
    body = response.content.decode()
    assert vendor_a.admin_email in body
    assert 'href="/accounts/two-factor/setup/"' in body
    # The email is shown, not editable.
    assert 'name="profile-email"' not in body


def test_partner_user_sees_the_portal_layout(vendor_a):
    make_user(vendor_a, "tech@msp.example", role="")
    client = signed_in_client(vendor_a, "tech@msp.example")
    assert client.get("/accounts/me/").context["layout"] == "portal/base.html"


def test_change_name(admin_a, vendor_a):
    response = admin_a.post("/accounts/me/", {"action": "profile", "profile-full_name": " Ada "})
    assert response.status_code == 302
    with schema_context(vendor_a.schema):
        assert User.objects.get(email=vendor_a.admin_email).full_name == "Ada"
        assert AuditEntry.objects.get(action="user.profile_updated").after == {"full_name": "Ada"}


def test_change_password_keeps_this_session_and_needs_the_old_one(vendor_a):
    make_user(vendor_a, "pw@vendor-a.example")
    client = signed_in_client(vendor_a, "pw@vendor-a.example")
    other_session = signed_in_client(vendor_a, "pw@vendor-a.example")
    wrong = client.post(
        "/accounts/me/",
        {
            "action": "password",
            "password-old_password": "not-it",
            "password-new_password1": NEW_PASSWORD,
            "password-new_password2": NEW_PASSWORD,
        },
    )
    assert wrong.status_code == 200
    assert "Your old password was entered incorrectly" in wrong.content.decode()
    with schema_context(vendor_a.schema):
        assert User.objects.get(email="pw@vendor-a.example").check_password(PASSWORD)
    response = client.post(
        "/accounts/me/",
        {
            "action": "password",
            "password-old_password": PASSWORD,
            "password-new_password1": NEW_PASSWORD,
            "password-new_password2": NEW_PASSWORD,
        },
    )
    assert response.status_code == 302
    with schema_context(vendor_a.schema):
        assert User.objects.get(email="pw@vendor-a.example").check_password(NEW_PASSWORD)
        assert AuditEntry.objects.filter(action="user.password_changed").count() == 1
    assert client.get("/accounts/me/").status_code == 200
    # Other sessions of the user end with the old password.
    assert other_session.get("/accounts/me/").status_code == 302
    assert sign_in(other_session, "pw@vendor-a.example", NEW_PASSWORD).status_code == 302
