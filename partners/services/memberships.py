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
