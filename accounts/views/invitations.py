"""/accounts/invitations/<token>/: set a name and password, and join with the invited role."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import login as auth_login
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables

from accounts.errors import AccountError, InvitationError
from accounts.forms import InvitationAcceptForm
from accounts.selectors import invitation_for_token
from accounts.services.invitations import invitation_accept as accept_service
from accounts.services.invitations import organisation_name
from core.actors import client_ip

from .home import home_url


def _invalid(request, exc: InvitationError):
    return render(
        request,
        "accounts/invitation_invalid.html",
        {"message": str(exc)},
        status=410 if exc.gone else 404,
    )


@never_cache
@sensitive_variables("token")
@sensitive_post_parameters("password1", "password2")
def invitation_accept(request, token: str):
    try:
        invitation = invitation_for_token(token)
    except InvitationError as exc:
        return _invalid(request, exc)
    form = InvitationAcceptForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user = accept_service(
                token=token,
                full_name=form.cleaned_data["full_name"],
                password=form.cleaned_data["password1"],
                ip=client_ip(request),
            )
        except InvitationError as exc:
            return _invalid(request, exc)
        except ValidationError as exc:
            form.add_error("password1", exc)
        except AccountError as exc:
            form.add_error(None, str(exc))
        else:
            auth_login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            messages.success(request, f"Welcome, {user.display_name}. Your account is ready.")
            return redirect(home_url(request))
    context = {
        "form": form,
        "invitation": invitation,
        "organisation": organisation_name(),
    }
    response = render(request, "accounts/invitation_accept.html", context)
    # The token is in the address: never let it leak to another site through the Referer
    # header. Not "no-referrer": with it, browsers send `Origin: null` with the form's POST,
    # which Django's CSRF origin check refuses (403), so nobody could accept in a browser.
    response["Referrer-Policy"] = "same-origin"
    return response
