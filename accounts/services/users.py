"""Changes to console users: role, active flag, profile and password. One transaction each,
with an audit row. The last active admin of a vendor can never be demoted or deactivated, and an
admin cannot do either to themself (another admin has to), so a vendor never locks itself out."""

from __future__ import annotations

from django.db import transaction

from accounts.enums import VendorRole
from accounts.errors import AccountError
from accounts.models import User
from core.actors import Actor
from core.services.audit import audit_record, audited_update

_FIELDS = ["email", "full_name", "vendor_role", "is_active"]


def _lock_for_admin_change(user: User) -> tuple[User, list[int]]:
    """Lock the active admins, then the target, in a fixed order, so that two admins demoting
    each other at the same moment cannot both pass the last-admin check."""
    admin_ids = list(
        User.objects.select_for_update()
        .filter(vendor_role=VendorRole.ADMIN, is_active=True)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    locked = User.objects.select_for_update().get(pk=user.pk)
    return locked, admin_ids


def _guard_admin_removal(*, target: User, admin_ids: list[int], actor: Actor, verb: str) -> None:
    if target.vendor_role != VendorRole.ADMIN or not target.is_active:
        return
    if actor.kind == "user" and actor.id == target.pk:
        raise AccountError(f"You cannot {verb} yourself. Ask another admin to do it.")
    if admin_ids == [target.pk]:
        raise AccountError(
            f"{target.email} is the last active admin; make someone else an admin first."
        )


def user_change_role(*, user: User, vendor_role: str, actor: Actor) -> User:
    if vendor_role not in VendorRole.values:
        raise AccountError("Choose one of the console roles.")
    with transaction.atomic():
        locked, admin_ids = _lock_for_admin_change(user)
        if not locked.vendor_role:
            raise AccountError(f"{locked.email} is not a console user.")
        if locked.vendor_role == vendor_role:
            return locked
        if vendor_role != VendorRole.ADMIN:
            _guard_admin_removal(target=locked, admin_ids=admin_ids, actor=actor, verb="demote")
        audited_update(
            locked,
            actor=actor,
            action="user.role_changed",
            changes={"vendor_role": vendor_role},
            audit_fields=_FIELDS,
        )
    return locked


def user_deactivate(*, user: User, actor: Actor) -> User:
    """The user can no longer sign in; their open sessions turn anonymous on the next request
    (Django's ModelBackend refuses inactive users)."""
    with transaction.atomic():
        locked, admin_ids = _lock_for_admin_change(user)
        if not locked.is_active:
            raise AccountError(f"{locked.email} is already deactivated.")
        _guard_admin_removal(target=locked, admin_ids=admin_ids, actor=actor, verb="deactivate")
        audited_update(
            locked,
            actor=actor,
            action="user.deactivated",
            changes={"is_active": False},
            audit_fields=_FIELDS,
        )
    return locked


def user_reactivate(*, user: User, actor: Actor) -> User:
    with transaction.atomic():
        locked = User.objects.select_for_update().get(pk=user.pk)
        if locked.is_active:
            raise AccountError(f"{locked.email} is already active.")
        audited_update(
            locked,
            actor=actor,
            action="user.reactivated",
            changes={"is_active": True},
            audit_fields=_FIELDS,
        )
    return locked


def user_update_profile(*, user: User, full_name: str, actor: Actor) -> User:
    full_name = full_name.strip()
    if len(full_name) > 200:
        raise AccountError("Names are at most 200 characters.")
    with transaction.atomic():
        locked = User.objects.select_for_update().get(pk=user.pk)
        audited_update(
            locked,
            actor=actor,
            action="user.profile_updated",
            changes={"full_name": full_name},
            audit_fields=["full_name"],
        )
    return locked


def user_change_password(*, user: User, new_password: str, actor: Actor) -> User:
    """Sets a password already checked by the validators (PasswordChangeForm does that). The
    audit row says that it changed, never the hash."""
    with transaction.atomic():
        locked = User.objects.select_for_update().get(pk=user.pk)
        locked.set_password(new_password)
        locked.save(update_fields=["password"])
        audit_record(
            actor=actor,
            action="user.password_changed",
            instance=locked,
            after={"password": "changed"},
        )
    # The caller's object too, so update_session_auth_hash keeps the current session signed in.
    user.password = locked.password
    return locked
