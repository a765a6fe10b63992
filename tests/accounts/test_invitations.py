"""Invitations: created from the console, emailed, accepted once, revoked, expired."""

from __future__ import annotations

import datetime
import hashlib
import re

import pytest
from django.core import mail
from django.utils import timezone
from django_tenants.utils import schema_context

from accounts.enums import VendorRole
from accounts.errors import AccountError
from accounts.models import Invitation, User
from accounts.services.invitations import STALE_AFTER, invitation_create
from accounts.tasks import expire_stale_invitations
from core.actors import Actor
from core.models import AuditEntry

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "lighthouse-keeper-2026"


def _accept_path(message) -> str:
    match = re.search(
        r"http://vendor-a\.localhost(/accounts/invitations/[A-Za-z0-9_-]+/)", message.body
    )
    assert match, message.body
    return match.group(1)


def _invite(admin_client, email="new.person@example.com", role=VendorRole.FINANCE):
    return admin_client.post("/console/users/invite/", {"email": email, "vendor_role": role})


def _create(tv, email="new.person@example.com", role=VendorRole.FINANCE) -> Invitation:
    with schema_context(tv.schema):
        return invitation_create(
            email=email,
            vendor_role=role,
            invited_by=None,
            actor=Actor.system("tests"),
            request_host=tv.host,
            scheme="http",
        )


def test_console_invite_emails_a_link_and_stores_only_the_token_hash(admin_a, vendor_a):
    started = timezone.now()
    response = _invite(admin_a, email="New.Person@Example.com")
    finished = timezone.now()
    assert response.status_code == 302
    assert response["Location"] == "/console/users/"
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["new.person@example.com"]
    assert message.subject == "Vendor A Admin invited you to Vendor A"
    assert "as Finance" in message.body
    path = _accept_path(message)
    token = path.split("/")[-2]
    with schema_context(vendor_a.schema):
        invitation = Invitation.objects.get()
        assert invitation.email == "new.person@example.com"
        assert invitation.vendor_role == VendorRole.FINANCE
        assert invitation.invited_by.email == vendor_a.admin_email
        assert invitation.token_hash == hashlib.sha256(token.encode()).hexdigest()
        assert token not in invitation.token_hash
        week = datetime.timedelta(days=7)
        assert started + week <= invitation.expires_at <= finished + week
        assert AuditEntry.objects.filter(action="invitation.created").count() == 1
    listing = admin_a.get("/console/users/").content.decode()
    assert "new.person@example.com" in listing
    assert "Pending" in listing


def test_accept_creates_exactly_one_user_with_the_role_and_reuse_fails(client_a, admin_a, vendor_a):
    _invite(admin_a)
    path = _accept_path(mail.outbox[0])
    page = client_a.get(path)
    assert page.status_code == 200
    assert "new.person@example.com" in page.content.decode()
    assert page["Referrer-Policy"] == "same-origin"
    with schema_context(vendor_a.schema):
        users_before = User.objects.count()
    response = client_a.post(
        path,
        {"full_name": "New Person", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )
    assert response.status_code == 302
    assert response["Location"] == "/"
    with schema_context(vendor_a.schema):
        assert User.objects.count() == users_before + 1
        user = User.objects.get(email="new.person@example.com")
        assert user.vendor_role == VendorRole.FINANCE
        assert user.full_name == "New Person"
        assert user.check_password(NEW_PASSWORD)
        assert Invitation.objects.get().accepted_at is not None
        assert AuditEntry.objects.filter(action="invitation.accepted").count() == 1
        assert AuditEntry.objects.filter(action="user.created", object_id=str(user.pk)).count() == 1
    # Signed in as the new user right away.
    assert client_a.get("/console/").status_code == 200

    again = client_a.post(
        path, {"full_name": "Someone Else", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD}
    )
    assert again.status_code == 410
    assert "already been used" in again.content.decode()
    with schema_context(vendor_a.schema):
        assert User.objects.count() == users_before + 1
        assert User.objects.get(email="new.person@example.com").full_name == "New Person"


def test_weak_password_is_refused_and_nothing_is_created(client_a, admin_a, vendor_a):
    _invite(admin_a)
    path = _accept_path(mail.outbox[0])
    response = client_a.post(
        path, {"full_name": "New Person", "password1": "password", "password2": "password"}
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert "This password is too short" in body
    assert "This password is too common" in body
    mismatch = client_a.post(
        path, {"full_name": "New Person", "password1": NEW_PASSWORD, "password2": "other-one-123"}
    )
    assert "The two passwords do not match." in mismatch.content.decode()
    with schema_context(vendor_a.schema):
        assert not User.objects.filter(email="new.person@example.com").exists()
        assert Invitation.objects.get().accepted_at is None


def test_unknown_token_is_404_with_message(client_a):
    response = client_a.get("/accounts/invitations/not-a-real-token/")
    assert response.status_code == 404
    assert "This invitation link is not valid." in response.content.decode()


def test_expired_invitation_is_refused(client_a, admin_a, vendor_a):
    _invite(admin_a)
    path = _accept_path(mail.outbox[0])
    with schema_context(vendor_a.schema):
        Invitation.objects.update(expires_at=timezone.now() - datetime.timedelta(minutes=1))
    response = client_a.post(
        path, {"full_name": "Late", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD}
    )
    assert response.status_code == 410
    assert "This invitation expired on" in response.content.decode()
    with schema_context(vendor_a.schema):
        assert not User.objects.filter(email="new.person@example.com").exists()


def test_revoked_invitation_is_refused(client_a, admin_a, vendor_a):
    _invite(admin_a)
    path = _accept_path(mail.outbox[0])
    with schema_context(vendor_a.schema):
        invitation = Invitation.objects.get()
    revoke = admin_a.post(f"/console/invitations/{invitation.pk}/revoke/")
    assert revoke.status_code == 302
    with schema_context(vendor_a.schema):
        assert Invitation.objects.get().revoked_at is not None
        assert AuditEntry.objects.filter(action="invitation.revoked").count() == 1
    response = client_a.get(path)
    assert response.status_code == 410
    assert "withdrawn by an administrator" in response.content.decode()


def test_invitation_token_of_vendor_a_is_unknown_on_vendor_b(client_b, admin_a, vendor_b):
    _invite(admin_a)
    path = _accept_path(mail.outbox[0])
    response = client_b.post(
        path, {"full_name": "Hopper", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD}
    )
    assert response.status_code == 404
    with schema_context(vendor_b.schema):
        assert not User.objects.filter(email="new.person@example.com").exists()


def test_invite_refuses_existing_account_and_pending_invitation(admin_a, vendor_a):
    existing = _invite(admin_a, email=vendor_a.admin_email)
    assert existing.status_code == 200
    assert f"{vendor_a.admin_email} already has an account here." in existing.content.decode()
    _invite(admin_a)
    duplicate = _invite(admin_a, email="NEW.PERSON@example.com")
    assert duplicate.status_code == 200
    assert "already has a pending invitation" in duplicate.content.decode()
    assert len(mail.outbox) == 1
    with schema_context(vendor_a.schema):
        assert Invitation.objects.count() == 1


def test_expired_invitation_does_not_block_a_new_one(vendor_a):
    first = _create(vendor_a)
    with schema_context(vendor_a.schema):
        Invitation.objects.filter(pk=first.pk).update(
            expires_at=timezone.now() - datetime.timedelta(days=1)
        )
    second = _create(vendor_a)
    with schema_context(vendor_a.schema):
        assert Invitation.objects.get(pk=first.pk).revoked_at is not None
        assert Invitation.objects.get(pk=second.pk).revoked_at is None
        closed = AuditEntry.objects.get(action="invitation.expired")
        assert closed.object_id == str(first.pk)
    assert len(mail.outbox) == 2


def test_revoking_twice_is_refused(vendor_a):
    from accounts.services.invitations import invitation_revoke

    invitation = _create(vendor_a)
    with schema_context(vendor_a.schema):
        invitation_revoke(invitation=invitation, actor=Actor.system("tests"))
        with pytest.raises(AccountError, match="already revoked"):
            invitation_revoke(invitation=invitation, actor=Actor.system("tests"))
        assert AuditEntry.objects.filter(action="invitation.revoked").count() == 1


def test_expire_stale_invitations_task_is_idempotent(vendor_a):
    stale = _create(vendor_a, email="stale@example.com")
    recent = _create(vendor_a, email="recent@example.com")
    fresh = _create(vendor_a, email="fresh@example.com")
    now = timezone.now()
    with schema_context(vendor_a.schema):
        Invitation.objects.filter(pk=stale.pk).update(
            expires_at=now - STALE_AFTER - datetime.timedelta(hours=1)
        )
        Invitation.objects.filter(pk=recent.pk).update(expires_at=now - datetime.timedelta(days=1))
        assert expire_stale_invitations.run() == 1
        assert expire_stale_invitations.run() == 0
        assert Invitation.objects.get(pk=stale.pk).revoked_at is not None
        assert Invitation.objects.get(pk=recent.pk).revoked_at is None
        assert Invitation.objects.get(pk=fresh.pk).revoked_at is None
        entries = AuditEntry.objects.filter(action="invitation.expired")
        assert [e.object_id for e in entries] == [str(stale.pk)]
        assert entries[0].actor_label == "invitation expiry"


def test_channel_manager_cannot_invite_or_revoke(vendor_a):
    from .conftest import make_user, signed_in_client

    make_user(vendor_a, "cm@vendor-a.example", role=VendorRole.CHANNEL_MANAGER)
    invitation = _create(vendor_a)
    client = signed_in_client(vendor_a, "cm@vendor-a.example")
    assert _invite(client, email="sneaky@example.com").status_code == 403
    assert client.post(f"/console/invitations/{invitation.pk}/revoke/").status_code == 403
    with schema_context(vendor_a.schema):
        assert list(Invitation.objects.values_list("email", "revoked_at")) == [
            ("new.person@example.com", None)
        ]
    assert len(mail.outbox) == 1  # only the one made by the service above


def test_mail_failure_leaves_no_invitation(admin_a, vendor_a, monkeypatch):
    from django.core.mail import EmailMultiAlternatives

    def refuse(self, fail_silently=False):
        raise ConnectionRefusedError("mail server down")

    monkeypatch.setattr(EmailMultiAlternatives, "send", refuse)
    response = _invite(admin_a)
    assert response.status_code == 200
    assert "could not be sent, so no invitation was made" in response.content.decode()
    with schema_context(vendor_a.schema):
        assert Invitation.objects.count() == 0
        assert AuditEntry.objects.filter(action="invitation.created").count() == 0
