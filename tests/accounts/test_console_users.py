"""Console user management: vendor admins only; roles, deactivation, and the rules that keep a
vendor from locking itself out."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_tenants.utils import schema_context

from accounts.enums import VendorRole
from accounts.errors import AccountError
from accounts.models import User
from accounts.services.users import user_change_role, user_deactivate
from core.actors import Actor
from core.models import AuditEntry

from .conftest import confirmed_device, make_user, sign_in, signed_in_client

pytestmark = pytest.mark.django_db


def _state(tv) -> list[tuple]:
    with schema_context(tv.schema):
        return list(User.objects.order_by("email").values_list("email", "vendor_role", "is_active"))


def _audit_count(tv) -> int:
    with schema_context(tv.schema):
        return AuditEntry.objects.count()


def test_users_page_lists_users_with_role_last_login_and_two_factor(admin_a, vendor_a):
    analyst = make_user(vendor_a, "ana@vendor-a.example", role=VendorRole.ANALYST, full_name="Ana")
    confirmed_device(vendor_a, analyst)
    make_user(vendor_a, "partner.user@msp.example", role="")
    response = admin_a.get("/console/users/")
    assert response.status_code == 200
    users = list(response.context["users"])
    assert [(u.email, u.vendor_role, u.has_two_factor) for u in users] == [
        ("admin@vendor-a.example", "admin", False),
        ("ana@vendor-a.example", "analyst", True),
    ]
    body = response.content.decode()
    assert "Analyst" in body
    assert "partner.user@msp.example" not in body  # partner users are managed elsewhere
    assert users[0].last_login is not None  # the admin just signed in
    assert "Never" in body  # Ana never did


def test_users_page_query_count_does_not_grow_with_rows(admin_a, vendor_a):
    from accounts.services.invitations import invitation_create

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert admin_a.get("/console/users/").status_code == 200
        return len(queries)

    baseline = count()
    for n in range(6):
        user = make_user(vendor_a, f"user{n}@vendor-a.example")
        confirmed_device(vendor_a, user)
        with schema_context(vendor_a.schema):
            invitation_create(
                email=f"invitee{n}@example.com",
                vendor_role=VendorRole.SUPPORT,
                invited_by=user,
                actor=Actor.system("tests"),
                request_host=vendor_a.host,
            )
    assert count() == baseline


@pytest.mark.parametrize(
    "method,path",
    [
        ("get", "/console/users/"),
        ("get", "/console/users/invite/"),
        ("get", "/console/users/{pk}/"),
        ("post", "/console/users/{pk}/"),
        ("post", "/console/users/{pk}/deactivate/"),
        ("get", "/console/api-keys/"),
        ("post", "/console/api-keys/"),
        ("get", "/console/settings/security/"),
        ("post", "/console/settings/security/"),
    ],
)
def test_channel_manager_gets_403_and_nothing_changes(vendor_a, method, path):
    make_user(vendor_a, "cm@vendor-a.example", role=VendorRole.CHANNEL_MANAGER)
    with schema_context(vendor_a.schema):
        admin_pk = User.objects.get(email=vendor_a.admin_email).pk
    client = signed_in_client(vendor_a, "cm@vendor-a.example")
    users_before, audit_before = _state(vendor_a), _audit_count(vendor_a)
    data = {"vendor_role": "analyst", "name": "x", "require_console_2fa": "on"}
    response = getattr(client, method)(path.format(pk=admin_pk), data)
    assert response.status_code == 403
    assert "Not allowed" in response.content.decode()
    assert _state(vendor_a) == users_before
    assert _audit_count(vendor_a) == audit_before
    with schema_context("public"):
        from tenancy.models import Vendor

        assert Vendor.objects.get(pk=vendor_a.vendor.pk).require_console_2fa is False


def test_anonymous_is_sent_to_login(client_a):
    response = client_a.get("/console/users/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/console/users/"


def test_admin_changes_a_role_with_an_audit_row(admin_a, vendor_a):
    target = make_user(vendor_a, "fin@vendor-a.example", role=VendorRole.FINANCE)
    page = admin_a.get(f"/console/users/{target.pk}/")
    assert page.status_code == 200
    response = admin_a.post(f"/console/users/{target.pk}/", {"vendor_role": "support"})
    assert response.status_code == 302
    with schema_context(vendor_a.schema):
        assert User.objects.get(pk=target.pk).vendor_role == "support"
        entry = AuditEntry.objects.get(action="user.role_changed")
        assert entry.before == {"vendor_role": "finance"}
        assert entry.after == {"vendor_role": "support"}
        assert entry.actor_label == vendor_a.admin_email


def test_invalid_role_is_refused(admin_a, vendor_a):
    target = make_user(vendor_a, "fin@vendor-a.example", role=VendorRole.FINANCE)
    response = admin_a.post(f"/console/users/{target.pk}/", {"vendor_role": "superuser"})
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert _state(vendor_a)[1] == ("fin@vendor-a.example", "finance", True)


def test_admin_cannot_demote_or_deactivate_themself(admin_a, vendor_a):
    with schema_context(vendor_a.schema):
        me = User.objects.get(email=vendor_a.admin_email)
    make_user(vendor_a, "second-admin@vendor-a.example", role=VendorRole.ADMIN)
    before, audit_before = _state(vendor_a), _audit_count(vendor_a)
    demote = admin_a.post(f"/console/users/{me.pk}/", {"vendor_role": "analyst"})
    assert demote.status_code == 200
    assert "You cannot demote yourself" in demote.content.decode()
    deactivate = admin_a.post(f"/console/users/{me.pk}/deactivate/", follow=True)
    assert "You cannot deactivate yourself" in deactivate.content.decode()
    assert _state(vendor_a) == before
    assert _audit_count(vendor_a) == audit_before


def test_last_active_admin_cannot_be_demoted_or_deactivated(vendor_a):
    with schema_context(vendor_a.schema):
        admin = User.objects.get(email=vendor_a.admin_email)
        with pytest.raises(AccountError, match="last active admin"):
            user_change_role(user=admin, vendor_role="analyst", actor=Actor.system("tests"))
        with pytest.raises(AccountError, match="last active admin"):
            user_deactivate(user=admin, actor=Actor.system("tests"))
        assert User.objects.get(pk=admin.pk).vendor_role == "admin"
        assert User.objects.get(pk=admin.pk).is_active is True
        # With a second active admin it is allowed.
        User.objects.create_user("backup@vendor-a.example", "x", vendor_role="admin")
        user_change_role(user=admin, vendor_role="analyst", actor=Actor.system("tests"))
        assert User.objects.get(pk=admin.pk).vendor_role == "analyst"


def test_an_admin_demotes_another_admin(admin_a, vendor_a):
    other = make_user(vendor_a, "other-admin@vendor-a.example", role=VendorRole.ADMIN)
    response = admin_a.post(f"/console/users/{other.pk}/", {"vendor_role": "finance"})
    assert response.status_code == 302
    with schema_context(vendor_a.schema):
        assert User.objects.get(pk=other.pk).vendor_role == "finance"


def test_deactivation_ends_sessions_and_blocks_login_until_reactivated(admin_a, vendor_a):
    make_user(vendor_a, "leaver@vendor-a.example", role=VendorRole.SUPPORT)
    leaver = signed_in_client(vendor_a, "leaver@vendor-a.example")
    assert leaver.get("/console/").status_code == 200
    with schema_context(vendor_a.schema):
        pk = User.objects.get(email="leaver@vendor-a.example").pk
    assert admin_a.post(f"/console/users/{pk}/deactivate/").status_code == 302
    with schema_context(vendor_a.schema):
        assert User.objects.get(pk=pk).is_active is False
        assert AuditEntry.objects.filter(action="user.deactivated").count() == 1
    assert leaver.get("/console/").status_code == 302  # the open session is anonymous now
    assert sign_in(leaver, "leaver@vendor-a.example").status_code == 200
    listing = admin_a.get("/console/users/").content.decode()
    assert "Deactivated" in listing

    assert admin_a.post(f"/console/users/{pk}/reactivate/").status_code == 302
    with schema_context(vendor_a.schema):
        assert User.objects.get(pk=pk).is_active is True
    assert sign_in(leaver, "leaver@vendor-a.example").status_code == 302


def test_deactivate_is_post_only(admin_a, vendor_a):
    target = make_user(vendor_a, "x@vendor-a.example")
    assert admin_a.get(f"/console/users/{target.pk}/deactivate/").status_code == 405
    assert _state(vendor_a)[1] == ("x@vendor-a.example", "channel_manager", True)


def test_partner_users_are_404_and_unchanged(admin_a, vendor_a):
    partner_user = make_user(vendor_a, "p@msp.example", role="")
    assert admin_a.get(f"/console/users/{partner_user.pk}/").status_code == 404
    assert admin_a.post(f"/console/users/{partner_user.pk}/deactivate/").status_code == 404
    assert (
        admin_a.post(f"/console/users/{partner_user.pk}/", {"vendor_role": "admin"}).status_code
        == 404
    )
    assert _state(vendor_a)[-1] == ("p@msp.example", "", True)


def test_admin_resets_a_users_two_factor(admin_a, vendor_a):
    target = make_user(vendor_a, "lost-phone@vendor-a.example")
    confirmed_device(vendor_a, target)
    response = admin_a.post(f"/console/users/{target.pk}/reset-two-factor/")
    assert response.status_code == 302
    with schema_context(vendor_a.schema):
        assert not TOTPDevice.objects.filter(user_id=target.pk).exists()
        assert AuditEntry.objects.filter(action="user.two_factor_reset").count() == 1
