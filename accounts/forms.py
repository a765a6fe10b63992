"""Forms of the accounts pages. They validate input; services do the writing."""

from __future__ import annotations

import re

from django import forms
from django.contrib.auth import authenticate
from django.core.exceptions import ValidationError

from core.actors import client_ip

from . import login_throttle
from .enums import VendorRole
from .models import User


class LoginForm(forms.Form):
    """Email + password with per-(email, address) throttling. Compatible with Django's
    LoginView (takes `request`, offers `get_user()`)."""

    email = forms.EmailField(
        label="Email",
        widget=forms.EmailInput(attrs={"autocomplete": "email", "autofocus": True}),
    )
    password = forms.CharField(
        label="Password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )

    def __init__(self, request=None, *args, **kwargs) -> None:
        self.request = request
        self.user_cache: User | None = None
        super().__init__(*args, **kwargs)

    def clean(self):
        cleaned = super().clean()
        email = (cleaned.get("email") or "").strip().lower()
        password = cleaned.get("password")
        if not email or not password:
            return cleaned
        ip = client_ip(self.request) if self.request is not None else None
        until = login_throttle.locked_until(email, ip)
        if until is not None:
            # Refused without checking the password: a locked pair learns nothing.
            raise ValidationError(login_throttle.locked_message(until), code="locked")
        # ModelBackend refuses inactive users, and hashes a dummy password for unknown emails
        # so that the answer takes as long either way.
        user = authenticate(self.request, email=email, password=password)
        if user is None:
            until = login_throttle.record_failure(email, ip)
            if until is not None:
                raise ValidationError(login_throttle.locked_message(until), code="locked")
            raise ValidationError("The email or password is not correct.", code="invalid_login")
        login_throttle.clear(email, ip)
        self.user_cache = user
        return cleaned

    def get_user(self) -> User | None:
        return self.user_cache


_CODE = re.compile(r"^\d{6}$")


class TotpCodeForm(forms.Form):
    code = forms.CharField(
        label="6-digit code",
        max_length=16,
        widget=forms.TextInput(
            attrs={
                "autocomplete": "one-time-code",
                "inputmode": "numeric",
                "pattern": r"[0-9 ]*",
                "autofocus": True,
            }
        ),
        help_text="From your authenticator app.",
    )

    def clean_code(self) -> str:
        code = self.cleaned_data["code"].replace(" ", "")
        if not _CODE.match(code):
            raise ValidationError("Enter the 6 digits shown in your authenticator app.")
        return code


class InviteForm(forms.Form):
    email = forms.EmailField(label="Email", widget=forms.EmailInput(attrs={"autofocus": True}))
    vendor_role = forms.ChoiceField(
        label="Role",
        choices=VendorRole.choices,
        initial=VendorRole.CHANNEL_MANAGER,
        help_text="Admins can manage users, API keys and security settings.",
    )


class InvitationAcceptForm(forms.Form):
    full_name = forms.CharField(
        label="Your name", max_length=200, widget=forms.TextInput(attrs={"autocomplete": "name"})
    )
    password1 = forms.CharField(
        label="Password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text="At least 10 characters; not a common password, not only digits.",
    )
    password2 = forms.CharField(
        label="Password again",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def clean(self):
        cleaned = super().clean()
        if (
            cleaned.get("password1")
            and cleaned.get("password2")
            and cleaned["password1"] != cleaned["password2"]
        ):
            self.add_error("password2", "The two passwords do not match.")
        return cleaned


class RoleForm(forms.Form):
    vendor_role = forms.ChoiceField(label="Role", choices=VendorRole.choices)


class ApiKeyCreateForm(forms.Form):
    name = forms.CharField(
        label="Name",
        max_length=100,
        help_text="What will use it, e.g. “RMM sync” or “PSA usage export”.",
    )


class SecuritySettingsForm(forms.Form):
    require_console_2fa = forms.BooleanField(
        label="Require two-factor for all console users",
        required=False,
        help_text="Console users without an authenticator app are asked to set one up at their "
        "next page view; nobody can turn theirs off while this is on.",
    )


class ProfileForm(forms.Form):
    full_name = forms.CharField(
        label="Name",
        max_length=200,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "name"}),
    )
