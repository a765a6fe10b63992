"""Inviting people into a partner's portal (owner at approval, then the owner's team)."""

from __future__ import annotations

from accounts.errors import AccountError
from accounts.models import Invitation, User
from accounts.services.invitations import invitation_create
from core.actors import Actor
from partners.errors import PartnerError
from partners.models import Partner


def partner_invitation_create(
    *,
    partner: Partner,
    email: str,
    role: str,
    invited_by: User | None,
    actor: Actor,
    request_host: str,
    scheme: str = "https",
) -> Invitation:
    """Email `email` a link to join `partner` with `role`; on acceptance the membership is made
    by `partners.services.memberships.on_invitation_accepted`."""
    if partner.is_read_only:
        raise PartnerError(f"{partner.name} is {partner.get_status_display().lower()}.")
    try:
        return invitation_create(
            email=email,
            partner_role=role,
            partner_id=partner.pk,
            partner_name=partner.name,
            invited_by=invited_by,
            actor=actor,
            request_host=request_host,
            scheme=scheme,
        )
    except AccountError as exc:
        raise PartnerError(str(exc), field="email") from exc
