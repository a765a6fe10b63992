"""Portal users: a user belongs to exactly one partner, with a role."""

from __future__ import annotations

from django.db import IntegrityError, transaction

from accounts.enums import PartnerRole
from accounts.models import User
from core.actors import Actor
from core.services.audit import audit_record, audited_update, snapshot
from partners.errors import PartnerError
from partners.models import Partner, PartnerMembership


def membership_create(
    *, user: User, partner: Partner, role: str, actor: Actor
) -> PartnerMembership:
    if role not in PartnerRole.values:
        raise PartnerError("Choose one of the partner roles.", field="role")
    if user.vendor_role:
        raise PartnerError(f"{user.email} is vendor staff and cannot join a partner.")
    try:
        with transaction.atomic():
            membership = PartnerMembership.objects.create(user=user, partner=partner, role=role)
            audit_record(
                actor=actor,
                action="partner_membership.created",
                instance=membership,
                after=snapshot(membership),
            )
    except IntegrityError:
        raise PartnerError(f"{user.email} already belongs to a partner.") from None
    return membership


def membership_change_role(
    *, membership: PartnerMembership, role: str, actor: Actor
) -> PartnerMembership:
    if role not in PartnerRole.values:
        raise PartnerError("Choose one of the partner roles.", field="role")
    with transaction.atomic():
        locked = PartnerMembership.objects.select_for_update().get(pk=membership.pk)
        if locked.role == PartnerRole.OWNER and role != PartnerRole.OWNER:
            owners = PartnerMembership.objects.select_for_update().filter(
                partner_id=locked.partner_id, role=PartnerRole.OWNER, user__is_active=True
            )
            if owners.count() <= 1:
                raise PartnerError("A partner keeps at least one owner.")
        if locked.role != role:
            audited_update(
                locked,
                actor=actor,
                action="partner_membership.role_changed",
                changes={"role": role},
            )
    return locked


def on_invitation_accepted(*, invitation, user: User, actor: Actor) -> None:
    """accounts' acceptance hook: a portal invitation makes the new user a member of its partner."""
    if invitation.partner_id is None:
        return
    partner = Partner.objects.get(pk=invitation.partner_id)
    membership_create(user=user, partner=partner, role=invitation.partner_role, actor=actor)


_USER_AUDIT_FIELDS = ["email", "full_name", "is_active"]


def membership_deactivate(*, membership: PartnerMembership, actor: Actor) -> PartnerMembership:
    """The member can no longer sign in (their open sessions end on the next request). The
    membership stays, so history keeps its name and the owner can reactivate them later. The
    partner's last active owner is never deactivated, and nobody deactivates themself."""
    with transaction.atomic():
        # Lock the partner's active owners first, in a fixed order, so two owners deactivating
        # each other at once cannot both pass the last-owner check.
        owner_ids = list(
            PartnerMembership.objects.select_for_update()
            .filter(partner_id=membership.partner_id, role=PartnerRole.OWNER, user__is_active=True)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        locked = PartnerMembership.objects.select_for_update().get(pk=membership.pk)
        user = User.objects.select_for_update().get(pk=locked.user_id)
        if not user.is_active:
            raise PartnerError(f"{user.email} is already deactivated.")
        if actor.kind == "user" and actor.id == user.pk:
            raise PartnerError("You cannot deactivate yourself. Ask another owner to do it.")
        if locked.role == PartnerRole.OWNER and owner_ids == [locked.pk]:
            raise PartnerError(
                f"{user.email} is the last active owner; make someone else an owner first."
            )
        audited_update(
            user,
            actor=actor,
            action="partner_user.deactivated",
            changes={"is_active": False},
            audit_fields=_USER_AUDIT_FIELDS,
        )
    locked.user = user
    return locked


def membership_reactivate(*, membership: PartnerMembership, actor: Actor) -> PartnerMembership:
    with transaction.atomic():
        locked = PartnerMembership.objects.select_for_update().get(pk=membership.pk)
        user = User.objects.select_for_update().get(pk=locked.user_id)
        if user.is_active:
            raise PartnerError(f"{user.email} is already active.")
        audited_update(
            user,
            actor=actor,
            action="partner_user.reactivated",
            changes={"is_active": True},
            audit_fields=_USER_AUDIT_FIELDS,
        )
    locked.user = user
    return locked
