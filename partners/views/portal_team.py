"""The partner's team and API keys in the portal. Every member sees who is on the team; owners
(Capability.MANAGE_TEAM) invite people, change roles, deactivate members, revoke invitations and
manage the partner's API keys. Objects of other partners are 404."""

from __future__ import annotations

import logging

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from accounts.enums import PartnerRole
from accounts.errors import AccountError
from accounts.models import ApiKey, Invitation
from accounts.services.api_keys import api_key_create, api_key_revoke
from accounts.services.invitations import invitation_revoke
from core.actors import Actor
from partners.access import portal_view
from partners.client_selectors import partner_api_keys, team_invitations_open, team_members
from partners.errors import PartnerError
from partners.forms_clients import MemberRoleForm, PartnerApiKeyForm, TeamInviteForm
from partners.models import PartnerMembership
from partners.permissions import Capability, role_can
from partners.services.invitations import partner_invitation_create
from partners.services.memberships import (
    membership_change_role,
    membership_deactivate,
    membership_reactivate,
)
from partners.services.onboarding import onboarding_refresh

logger = logging.getLogger(__name__)


def _can_manage(request: HttpRequest) -> bool:
    return (
        role_can(request.membership.role, Capability.MANAGE_TEAM)
        and not request.partner.is_read_only
    )


def _member_or_404(request: HttpRequest, pk: int) -> PartnerMembership:
    return get_object_or_404(
        PartnerMembership.objects.select_related("user"), pk=pk, partner=request.partner
    )


@portal_view(Capability.VIEW)
def team(request: HttpRequest) -> HttpResponse:
    can_manage = _can_manage(request)
    # Owners see invitations and keys even when the partner is read-only (they cannot change them).
    is_owner = role_can(request.membership.role, Capability.MANAGE_TEAM)
    context = {
        "members": team_members(request.partner),
        "invitations": team_invitations_open(request.partner) if is_owner else [],
        "api_keys": partner_api_keys(request.partner) if is_owner else [],
        "is_owner": is_owner,
        "can_manage": can_manage,
        "roles": PartnerRole.choices,
    }
    return render(request, "partners/portal/team/team.html", context)


@portal_view(Capability.MANAGE_TEAM)
def team_invite(request: HttpRequest) -> HttpResponse:
    form = TeamInviteForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            invitation = partner_invitation_create(
                partner=request.partner,
                email=form.cleaned_data["email"],
                role=form.cleaned_data["role"],
                invited_by=request.user,
                actor=Actor.from_request(request),
                request_host=request.get_host(),
                scheme=request.scheme,
            )
        except PartnerError as exc:
            form.add_error("email" if exc.field == "email" else None, str(exc))
        except OSError:  # smtplib's errors included; the invitation was rolled back
            logger.exception("Portal invitation email could not be sent")
            form.add_error(
                None,
                "The invitation email could not be sent, so no invitation was made. "
                "Try again in a few minutes.",
            )
        else:
            messages.success(request, f"Invitation sent to {invitation.email}.")
            return redirect("portal:team")
    return render(request, "partners/portal/team/invite.html", {"form": form})


@portal_view(Capability.MANAGE_TEAM)
@require_POST
def team_member_role(request: HttpRequest, pk: int) -> HttpResponse:
    membership = _member_or_404(request, pk)
    form = MemberRoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose one of the partner roles.")
        return redirect("portal:team")
    try:
        membership = membership_change_role(
            membership=membership, role=form.cleaned_data["role"], actor=Actor.from_request(request)
        )
    except PartnerError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(
            request, f"{membership.user.email} is now {membership.get_role_display().lower()}."
        )
    return redirect("portal:team")


@portal_view(Capability.MANAGE_TEAM)
def team_member_deactivate(request: HttpRequest, pk: int) -> HttpResponse:
    membership = _member_or_404(request, pk)
    if request.method == "POST":
        try:
            membership_deactivate(membership=membership, actor=Actor.from_request(request))
        except PartnerError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, f"{membership.user.email} is deactivated.")
        return redirect("portal:team")
    context = {"member": membership, "is_self": membership.user_id == request.user.pk}
    return render(request, "partners/portal/team/deactivate.html", context)


@portal_view(Capability.MANAGE_TEAM)
@require_POST
def team_member_reactivate(request: HttpRequest, pk: int) -> HttpResponse:
    membership = _member_or_404(request, pk)
    try:
        membership_reactivate(membership=membership, actor=Actor.from_request(request))
    except PartnerError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"{membership.user.email} can sign in again.")
    return redirect("portal:team")


@portal_view(Capability.MANAGE_TEAM)
@require_POST
def team_invitation_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    invitation = get_object_or_404(Invitation, pk=pk, partner_id=request.partner.pk)
    try:
        invitation_revoke(invitation=invitation, actor=Actor.from_request(request))
    except AccountError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"The invitation for {invitation.email} is revoked.")
    return redirect("portal:team")


@never_cache
@portal_view(Capability.MANAGE_TEAM)
def team_api_key_create(request: HttpRequest) -> HttpResponse:
    """A new key is shown once, in the answer to the POST that created it, and never again."""
    form = PartnerApiKeyForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        actor = Actor.from_request(request)
        try:
            issued = api_key_create(
                name=form.cleaned_data["name"],
                actor=actor,
                created_by=request.user,
                partner_id=request.partner.pk,
            )
        except AccountError as exc:
            form.add_error("name", str(exc))
        else:
            # The first key completes the onboarding step "create an API key".
            onboarding_refresh(partner=request.partner, actor=actor)
            context = {"api_key": issued.api_key, "secret": issued.secret}
            return render(request, "partners/portal/team/api_key_created.html", context, status=201)
    return render(request, "partners/portal/team/api_key_form.html", {"form": form})


@portal_view(Capability.MANAGE_TEAM)
def team_api_key_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    api_key = get_object_or_404(ApiKey, pk=pk, partner_id=request.partner.pk)
    if request.method == "POST":
        try:
            api_key_revoke(api_key=api_key, actor=Actor.from_request(request))
        except AccountError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, f"The key “{api_key.name}” is revoked.")
        return redirect("portal:team")
    return render(request, "partners/portal/team/api_key_revoke.html", {"api_key": api_key})
