"""Sign-in, password reset and the second factor at sign-in."""

from __future__ import annotations

from urllib.parse import urlencode

import django_otp
from django.contrib.auth import login as auth_login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters

from accounts.errors import AccountError
from accounts.forms import LoginForm, TotpCodeForm
from accounts.selectors import confirmed_totp_device
from accounts.services.invitations import organisation_name
from accounts.services.two_factor import totp_code_check
from core.actors import client_ip
from core.ratelimit import allow

from .home import home_url


def safe_next(request, default: str | None = None) -> str:
    """The `next` parameter when it points at this host, else `default` (or the home page)."""
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return default or home_url(request)


def two_factor_verify_url(next_url: str) -> str:
    return f"{reverse('accounts:two_factor_verify')}?{urlencode({'next': next_url})}"


class SignInView(auth_views.LoginView):
    form_class = LoginForm
    template_name = "accounts/login.html"
    redirect_authenticated_user = True

    def get_default_redirect_url(self) -> str:
        return home_url(self.request)

    def form_valid(self, form):
        user = form.get_user()
        auth_login(self.request, user)
        target = self.get_success_url()
        # With a confirmed device the password is only half of the sign-in.
        if confirmed_totp_device(user) is not None:
            return HttpResponseRedirect(two_factor_verify_url(target))
        return HttpResponseRedirect(target)


class PasswordResetView(auth_views.PasswordResetView):
    """Django's reset flow. The emailed link uses the request's host, and the form only finds
    users in the current vendor's schema, so a reset on vendor A's domain concerns A's users."""

    template_name = "accounts/password_reset_form.html"
    email_template_name = "emails/password_reset.txt"
    html_email_template_name = "emails/password_reset.html"
    subject_template_name = "emails/password_reset_subject.txt"
    success_url = reverse_lazy("accounts:password_reset_done")

    def form_valid(self, form):
        # Limit reset emails per address and per client address. Over the limit the page looks
        # the same (it never reveals whether an account exists) but no email is sent.
        email = form.cleaned_data["email"].strip().lower()
        ip = client_ip(self.request) or "-"
        per_email = allow("password-reset-email", email, limit=3, window_seconds=3600)
        per_ip = allow("password-reset-ip", ip, limit=10, window_seconds=3600)
        if not (per_email and per_ip):
            return HttpResponseRedirect(self.get_success_url())
        self.extra_email_context = {"organisation": organisation_name()}
        return super().form_valid(form)


class PasswordResetDoneView(auth_views.PasswordResetDoneView):
    template_name = "accounts/password_reset_done.html"


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    template_name = "accounts/password_reset_confirm.html"
    success_url = reverse_lazy("accounts:password_reset_complete")


class PasswordResetCompleteView(auth_views.PasswordResetCompleteView):
    template_name = "accounts/password_reset_complete.html"


@never_cache
@sensitive_post_parameters("code")
@login_required
def two_factor_verify(request):
    """The second step of signing in for users with a confirmed TOTP device."""
    next_url = safe_next(request)
    device = confirmed_totp_device(request.user)
    if device is None or request.user.is_verified():
        return redirect(next_url)
    form = TotpCodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            totp_code_check(device=device, code=form.cleaned_data["code"])
        except AccountError as exc:
            form.add_error("code", str(exc))
        else:
            # A new session id for the now fully signed-in session.
            request.session.cycle_key()
            django_otp.login(request, device)
            return redirect(next_url)
    return render(request, "accounts/two_factor_verify.html", {"form": form, "next": next_url})
