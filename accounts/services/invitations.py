"""Inviting people to the console: create (and email), revoke, accept, expire.

The token is random and sent only in the email; the database keeps its SHA-256, so a leaked
backup or a curious operator cannot accept anyone's invitation.
"""

from __future__ import annotations

import datetime
import secrets
from typing import Any

from django.conf import settings
from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError
from django.core.mail import EmailMultiAlternatives
from django.core.validators import validate_email
from django.db import IntegrityError, connection, transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.module_loading import import_string

from accounts.enums import PartnerRole, VendorRole
from accounts.errors import AccountError, InvitationError
from accounts.models import Invitation, User
from accounts.selectors import invitation_check_usable, token_hash
from core.actors import Actor
from core.services.audit import audit_record, audited_update, snapshot
from tenancy.models import PUBLIC_SCHEMA, Vendor

PLATFORM_NAME = "MSP Program"

# Expired invitations stay visible (as "expired") this long before the nightly job closes them.
STALE_AFTER = datetime.timedelta(days=30)

_AUDIT_FIELDS = [
    "email",
    "vendor_role",
    "partner_role",
    "partner_id",
    "expires_at",
    "accepted_at",
    "revoked_at",
]


def organisation_name() -> str:
    """The vendor whose schema is active, for emails; the platform's name on the public schema."""
    schema = connection.schema_name
    if schema == PUBLIC_SCHEMA:
        return PLATFORM_NAME
    name = getattr(connection.tenant, "name", None)
    if name:
        return name
    # schema_context() and Celery tasks activate a bare FakeTenant that knows only its schema.
    name = Vendor.objects.filter(schema_name=schema).values_list("name", flat=True).first()
    return name or PLATFORM_NAME


def invitation_create(
    *,
    email: str,
    invited_by: User | None,
    actor: Actor,
    request_host: str,
    scheme: str = "https",
    vendor_role: str = "",
    partner_role: str = "",
    partner_id: int | None = None,
    partner_name: str = "",
) -> Invitation:
    """Invite `email` to the console with `vendor_role`, or to a partner's portal with
    `partner_role` (+ `partner_id`, `partner_name` for the email); emails the accept link.

    On acceptance the hooks in settings.INVITATION_ACCEPTED_HOOKS run in the same transaction
    (the partners app links a portal user to its partner there)."""
    email = email.strip().lower()
    try:
        validate_email(email)
    except ValidationError as exc:
        raise AccountError(f"“{email}” is not a valid email address.") from exc
    if partner_id is None:
        if vendor_role not in VendorRole.values:
            raise AccountError("Choose one of the console roles.")
        partner_role = ""
    elif vendor_role or partner_role not in PartnerRole.values:
        raise AccountError("Choose one of the partner roles.")
    token = secrets.token_urlsafe(32)
    now = timezone.now()
    with transaction.atomic():
        if User.objects.filter(email__iexact=email).exists():
            raise AccountError(f"{email} already has an account here.")
        # An expired invitation must not block a new one: close it first so the database's
        # one-open-invitation-per-address constraint holds.
        expired = Invitation.objects.select_for_update().filter(
            email=email, accepted_at__isnull=True, revoked_at__isnull=True, expires_at__lte=now
        )
        for old in expired:
            old.revoked_at = now
            old.save(update_fields=["revoked_at"])
            audit_record(
                actor=actor,
                action="invitation.expired",
                instance=old,
                before={"revoked_at": None},
                after=snapshot(old, ["revoked_at"]),
            )
        pending = _pending_message(email)
        if Invitation.objects.filter(
            email=email, accepted_at__isnull=True, revoked_at__isnull=True
        ).exists():
            raise AccountError(pending)
        try:
            with transaction.atomic():
                invitation = Invitation.objects.create(
                    email=email,
                    vendor_role=vendor_role,
                    partner_role=partner_role,
                    partner_id=partner_id,
                    token_hash=token_hash(token),
                    invited_by=invited_by,
                    expires_at=now + datetime.timedelta(days=settings.INVITATION_VALID_DAYS),
                )
        except IntegrityError as exc:  # a concurrent request invited the same address
            raise AccountError(pending) from exc
        audit_record(
            actor=actor,
            action="invitation.created",
            instance=invitation,
            after=snapshot(invitation, _AUDIT_FIELDS),
        )
        path = reverse("accounts:invitation_accept", kwargs={"token": token})
        # Sent inside the transaction: if the mail server refuses it, no invitation is left
        # behind that nobody received.
        _send_invitation_email(
            invitation=invitation,
            accept_url=f"{scheme}://{request_host}{path}",
            invited_by=invited_by,
            partner_name=partner_name,
        )
    return invitation


def _pending_message(email: str) -> str:
    return (
        f"{email} already has a pending invitation. Revoke it first if you want to send a new one."
    )


def _send_invitation_email(
    *, invitation: Invitation, accept_url: str, invited_by: User | None, partner_name: str = ""
) -> None:
    organisation = organisation_name()
    if invitation.partner_id is not None:
        # A portal user joins their MSP inside the vendor's partner portal.
        organisation = f"{partner_name} in the {organisation} partner portal"
        role = invitation.get_partner_role_display()
    else:
        role = invitation.get_vendor_role_display()
    context: dict[str, Any] = {
        "organisation": organisation,
        "invitation": invitation,
        "role": role,
        "accept_url": accept_url,
        "invited_by": invited_by.display_name if invited_by else None,
        "valid_days": settings.INVITATION_VALID_DAYS,
    }
    subject = "".join(render_to_string("emails/invitation_subject.txt", context).splitlines())
    message = EmailMultiAlternatives(
        subject=subject,
        body=render_to_string("emails/invitation.txt", context),
        to=[invitation.email],
    )
    message.attach_alternative(render_to_string("emails/invitation.html", context), "text/html")
    message.send()


def invitation_revoke(*, invitation: Invitation, actor: Actor) -> Invitation:
    with transaction.atomic():
        locked = Invitation.objects.select_for_update().get(pk=invitation.pk)
        if locked.accepted_at is not None:
            raise AccountError(f"The invitation for {locked.email} was already accepted.")
        if locked.revoked_at is not None:
            raise AccountError(f"The invitation for {locked.email} is already revoked.")
        audited_update(
            locked,
            actor=actor,
            action="invitation.revoked",
            changes={"revoked_at": timezone.now()},
            audit_fields=_AUDIT_FIELDS,
        )
    return locked


def invitation_accept(*, token: str, full_name: str, password: str, ip: str | None = None) -> User:
    """Create the invited user with the invitation's role and mark the invitation used.

    Raises InvitationError when the link cannot be used, django's ValidationError when the
    password is refused by the configured validators, AccountError for other problems.
    """
    full_name = full_name.strip()
    if not full_name:
        raise AccountError("Enter your name.")
    digest = token_hash(token)
    with transaction.atomic():
        # Locked so that two tabs submitting the same link create one user, not two.
        locked = Invitation.objects.select_for_update().filter(token_hash=digest).first()
        if locked is None:
            raise InvitationError("This invitation link is not valid.", gone=False)
        invitation_check_usable(locked)
        if User.objects.filter(email__iexact=locked.email).exists():
            raise InvitationError(f"An account for {locked.email} already exists. Sign in instead.")
        user = User(
            email=locked.email,
            full_name=full_name[:200],
            vendor_role=locked.vendor_role,
        )
        password_validation.validate_password(password, user=user)
        user.set_password(password)
        user.save()
        before = snapshot(locked, _AUDIT_FIELDS)
        locked.accepted_at = timezone.now()
        locked.save(update_fields=["accepted_at"])
        actor = Actor.for_user(user, ip=ip)
        audit_record(
            actor=actor,
            action="user.created",
            instance=user,
            after=snapshot(user, ["email", "full_name", "vendor_role", "is_active"]),
        )
        for hook in settings.INVITATION_ACCEPTED_HOOKS:
            import_string(hook)(invitation=locked, user=user, actor=actor)
        audit_record(
            actor=actor,
            action="invitation.accepted",
            instance=locked,
            before=before,
            after=snapshot(locked, _AUDIT_FIELDS),
        )
    return user


def invitations_expire_stale(*, actor: Actor, now: datetime.datetime | None = None) -> int:
    """Close invitations that expired more than STALE_AFTER ago. Running it twice changes
    nothing the second time."""
    now = now or timezone.now()
    cutoff = now - STALE_AFTER
    closed = 0
    with transaction.atomic():
        stale = Invitation.objects.select_for_update(skip_locked=True).filter(
            accepted_at__isnull=True, revoked_at__isnull=True, expires_at__lt=cutoff
        )
        for invitation in stale:
            invitation.revoked_at = now
            invitation.save(update_fields=["revoked_at"])
            audit_record(
                actor=actor,
                action="invitation.expired",
                instance=invitation,
                before={"revoked_at": None},
                after=snapshot(invitation, ["revoked_at"]),
            )
            closed += 1
    return closed
