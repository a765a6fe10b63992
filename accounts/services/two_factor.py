"""TOTP two-factor: set up (confirm a new device with a code), check a code, disable, reset.

A user has at most one confirmed TOTP device. Codes are checked under a row lock so that
django-otp's replay protection (a code is accepted once) and its throttling (1, 2, 4 … seconds
after each wrong code) hold under concurrent requests.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.errors import AccountError
from accounts.models import User
from core.actors import Actor
from core.services.audit import audit_record

DEVICE_NAME = "Authenticator app"
WRONG_CODE = "That code is not correct. Enter the 6-digit code your authenticator app shows now."


def totp_device_pending(*, user: User) -> TOTPDevice:
    """The unconfirmed device being set up, created on first visit and kept until confirmed,
    so a QR code scanned earlier still works. Not audited: nothing is enabled yet."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("pk").first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name=DEVICE_NAME, confirmed=False)
    return device


def totp_code_check(*, device: TOTPDevice, code: str) -> None:
    """Accept `code` for `device` or raise AccountError saying why not."""
    with transaction.atomic():
        locked = TOTPDevice.objects.select_for_update().get(pk=device.pk)
        allowed, info = locked.verify_is_allowed()
        # verify_token records a failure on the row itself; it must commit, so no raising here.
        accepted = allowed and locked.verify_token(code)
    if accepted:
        return
    if not allowed:
        wait = 1
        if info and info.get("locked_until"):
            wait = max(1, int((info["locked_until"] - timezone.now()).total_seconds()) + 1)
        raise AccountError(
            f"Too many wrong codes. Wait {wait} second{'s' if wait != 1 else ''} and try again."
        )
    raise AccountError(WRONG_CODE)


def two_factor_enable(*, user: User, device: TOTPDevice, code: str, actor: Actor) -> TOTPDevice:
    if device.user_id != user.pk or device.confirmed:
        raise AccountError("Start the two-factor setup again.")
    if TOTPDevice.objects.filter(user=user, confirmed=True).exists():
        raise AccountError("Two-factor authentication is already on for your account.")
    totp_code_check(device=device, code=code)
    with transaction.atomic():
        locked = TOTPDevice.objects.select_for_update().get(pk=device.pk)
        locked.confirmed = True
        locked.save(update_fields=["confirmed"])
        TOTPDevice.objects.filter(user=user, confirmed=False).delete()
        audit_record(
            actor=actor,
            action="user.two_factor_enabled",
            instance=user,
            before={"two_factor": False},
            after={"two_factor": True},
        )
    return locked


def two_factor_required_for(user: User, vendor) -> bool:
    """Whether the vendor's policy forces two-factor on this user (console users only)."""
    return bool(
        vendor is not None
        and not getattr(vendor, "is_public", True)
        and vendor.require_console_2fa
        and user.is_console_user
    )


def two_factor_disable(*, user: User, code: str, vendor, actor: Actor) -> None:
    """Turn two-factor off; needs a current code and is refused while the vendor requires it."""
    if two_factor_required_for(user, vendor):
        raise AccountError(
            f"{vendor.name} requires two-factor authentication for console users, "
            "so it cannot be turned off."
        )
    device = TOTPDevice.objects.filter(user=user, confirmed=True).order_by("pk").first()
    if device is None:
        raise AccountError("Two-factor authentication is not on for your account.")
    totp_code_check(device=device, code=code)
    with transaction.atomic():
        TOTPDevice.objects.filter(user=user).delete()
        audit_record(
            actor=actor,
            action="user.two_factor_disabled",
            instance=user,
            before={"two_factor": True},
            after={"two_factor": False},
        )


def two_factor_reset(*, user: User, actor: Actor) -> None:
    """An admin removes a user's devices (lost phone); the user sets up again at next sign-in."""
    if actor.kind == "user" and actor.id == user.pk:
        # Otherwise an admin's session alone could drop their own second factor without a code.
        raise AccountError("Turn off your own two-factor on your account page, with a code.")
    with transaction.atomic():
        devices = TOTPDevice.objects.select_for_update().filter(user=user)
        if not any(device.confirmed for device in devices):
            raise AccountError(f"{user.email} has no two-factor device to reset.")
        devices.delete()
        audit_record(
            actor=actor,
            action="user.two_factor_reset",
            instance=user,
            before={"two_factor": True},
            after={"two_factor": False},
        )
