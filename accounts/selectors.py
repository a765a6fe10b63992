"""Reads used by the accounts pages and services."""

from __future__ import annotations

import hashlib

from django.db.models import Exists, OuterRef, QuerySet
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from .errors import InvitationError
from .models import ApiKey, Invitation, User


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def console_users_list() -> QuerySet[User]:
    """Vendor staff (users with a vendor role), active first, with their two-factor status."""
    confirmed = TOTPDevice.objects.filter(user=OuterRef("pk"), confirmed=True)
    return (
        User.objects.exclude(vendor_role="")
        .annotate(has_two_factor=Exists(confirmed))
        .order_by("-is_active", "email")
    )


def console_invitations_open() -> QuerySet[Invitation]:
    """Console invitations neither accepted nor revoked (expired ones included, shown as such)."""
    return (
        Invitation.objects.exclude(vendor_role="")
        .filter(accepted_at__isnull=True, revoked_at__isnull=True)
        .select_related("invited_by")
        .order_by("-created_at")
    )


def api_keys_list() -> QuerySet[ApiKey]:
    return ApiKey.objects.select_related("created_by").order_by("-created_at")


def confirmed_totp_device(user: User) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user, confirmed=True).order_by("pk").first()


def user_has_two_factor(user: User) -> bool:
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


def invitation_for_token(token: str) -> Invitation:
    """The usable invitation behind an emailed token, or an InvitationError saying why not."""
    invitation = Invitation.objects.filter(token_hash=token_hash(token)).first()
    if invitation is None:
        raise InvitationError(
            "This invitation link is not valid. Check that you copied the whole link from the "
            "email, or ask your administrator to invite you again.",
            gone=False,
        )
    invitation_check_usable(invitation)
    return invitation


def invitation_check_usable(invitation: Invitation) -> None:
    if invitation.accepted_at is not None:
        raise InvitationError(
            "This invitation has already been used. Sign in with your email and password, "
            "or reset your password if you have forgotten it."
        )
    if invitation.revoked_at is not None:
        raise InvitationError(
            "This invitation was withdrawn by an administrator. Ask them to invite you again."
        )
    if invitation.expires_at <= timezone.now():
        raise InvitationError(
            f"This invitation expired on {invitation.expires_at:%d %B %Y at %H:%M} UTC. "
            "Ask your administrator to send you a new one."
        )
