"""Console user management for vendor admins: users, invitations, roles, (de)activation."""

from __future__ import annotations

import logging

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from accounts.errors import AccountError
from accounts.forms import InviteForm, RoleForm
from accounts.models import Invitation, User
from accounts.permissions import vendor_admin_required
from accounts.selectors import console_invitations_open, console_users_list
from accounts.services.invitations import invitation_create, invitation_revoke
from accounts.services.two_factor import two_factor_reset
from accounts.services.users import user_change_role, user_deactivate, user_reactivate
from core.actors import Actor

logger = logging.getLogger(__name__)


@vendor_admin_required
def users(request):
    context = {
        "users": console_users_list(),
        "invitations": console_invitations_open(),
    }
    return render(request, "accounts/console/users.html", context)


@vendor_admin_required
def user_invite(request):
    form = InviteForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            invitation = invitation_create(
                email=form.cleaned_data["email"],
                vendor_role=form.cleaned_data["vendor_role"],
                invited_by=request.user,
                actor=Actor.from_request(request),
                request_host=request.get_host(),
                scheme=request.scheme,
            )
        except AccountError as exc:
            form.add_error("email", str(exc))
        except OSError:  # smtplib's errors included; the invitation was rolled back
            logger.exception("Invitation email could not be sent")
            form.add_error(
                None,
                "The invitation email could not be sent, so no invitation was made. "
                "Try again in a few minutes.",
            )
        else:
            messages.success(request, f"Invitation sent to {invitation.email}.")
            return redirect("console:users")
    return render(request, "accounts/console/user_invite.html", {"form": form})


def _console_user(pk: int) -> User:
    # Partner users are managed with their partner, not here.
    return get_object_or_404(console_users_list(), pk=pk)


@vendor_admin_required
def user_edit(request, pk: int):
    target = _console_user(pk)
    is_self = target.pk == request.user.pk
    form = RoleForm(request.POST or None, initial={"vendor_role": target.vendor_role})
    if request.method == "POST" and form.is_valid():
        try:
            user_change_role(
                user=target,
                vendor_role=form.cleaned_data["vendor_role"],
                actor=Actor.from_request(request),
            )
        except AccountError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, f"{target.email} is saved.")
            return redirect("console:users")
    context = {"target": target, "form": form, "is_self": is_self}
    return render(request, "accounts/console/user_edit.html", context)


def _user_action(request, pk: int, service, done: str):
    target = _console_user(pk)
    try:
        service(user=target, actor=Actor.from_request(request))
    except AccountError as exc:
        messages.error(request, str(exc))
        return redirect("console:user_edit", pk=target.pk)
    messages.success(request, done.format(email=target.email))
    return redirect("console:users")


@require_POST
@vendor_admin_required
def user_deactivate_view(request, pk: int):
    return _user_action(request, pk, user_deactivate, "{email} is deactivated.")


@require_POST
@vendor_admin_required
def user_reactivate_view(request, pk: int):
    return _user_action(request, pk, user_reactivate, "{email} is active again.")


@require_POST
@vendor_admin_required
def user_two_factor_reset_view(request, pk: int):
    return _user_action(
        request,
        pk,
        two_factor_reset,
        "Two-factor is reset for {email}; they set it up again at their next sign-in.",
    )


@require_POST
@vendor_admin_required
def invitation_revoke_view(request, pk: int):
    invitation = get_object_or_404(Invitation.objects.exclude(vendor_role=""), pk=pk)
    try:
        invitation_revoke(invitation=invitation, actor=Actor.from_request(request))
    except AccountError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"The invitation for {invitation.email} is revoked.")
    return redirect("console:users")
