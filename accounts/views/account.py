"""/accounts/me/: one's own name, password and two-factor status."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import PasswordChangeForm
from django.shortcuts import redirect, render
from django.views.decorators.debug import sensitive_post_parameters

from accounts.errors import AccountError
from accounts.forms import ProfileForm
from accounts.selectors import user_has_two_factor
from accounts.services.two_factor import two_factor_required_for
from accounts.services.users import user_change_password, user_update_profile
from core.actors import Actor


def account_layout(request) -> str:
    """Console users see the page inside the console, partner users inside the portal, and
    platform operators inside the operator area."""
    tenant = getattr(request, "tenant", None)
    if tenant is None or tenant.is_public:
        return "operator/base.html"
    return "console/base.html" if request.user.is_console_user else "portal/base.html"


@sensitive_post_parameters("old_password", "new_password1", "new_password2")
@login_required
def account(request):
    user = request.user
    profile_form = ProfileForm(initial={"full_name": user.full_name}, prefix="profile")
    password_form = PasswordChangeForm(user, prefix="password")
    action = request.POST.get("action") if request.method == "POST" else None
    if action == "profile":
        profile_form = ProfileForm(request.POST, prefix="profile")
        if profile_form.is_valid():
            try:
                user_update_profile(
                    user=user,
                    full_name=profile_form.cleaned_data["full_name"],
                    actor=Actor.from_request(request),
                )
            except AccountError as exc:
                profile_form.add_error("full_name", str(exc))
            else:
                messages.success(request, "Your name is saved.")
                return redirect("accounts:account")
    elif action == "password":
        # The form checks the current password and runs the password validators; the service
        # writes the change and its audit row.
        password_form = PasswordChangeForm(user, request.POST, prefix="password")
        if password_form.is_valid():
            user_change_password(
                user=user,
                new_password=password_form.cleaned_data["new_password1"],
                actor=Actor.from_request(request),
            )
            update_session_auth_hash(request, user)  # stay signed in here, out elsewhere
            messages.success(request, "Your password is changed.")
            return redirect("accounts:account")
    vendor = getattr(request, "tenant", None)
    context = {
        "layout": account_layout(request),
        "profile_form": profile_form,
        "password_form": password_form,
        "has_two_factor": user_has_two_factor(user),
        "two_factor_required": two_factor_required_for(user, vendor),
    }
    return render(request, "accounts/account.html", context)
