"""Operator forms. They check shape only; the services validate the rules (slug format, domain,
time zone, currency, uniqueness) and their VendorError messages are shown as form errors."""

from __future__ import annotations

import zoneinfo
from itertools import groupby

from django import forms
from django.conf import settings


def timezone_choices() -> list[tuple[str, list[tuple[str, str]]]]:
    """All IANA zones, grouped by region (Europe, America, …) for a readable select."""
    names = sorted(zoneinfo.available_timezones())

    def region(name: str) -> str:
        return name.split("/", 1)[0] if "/" in name else "Other"

    grouped = groupby(sorted(names, key=lambda n: (region(n), n)), key=region)
    return [(group, [(name, name) for name in members]) for group, members in grouped]


class VendorCreateForm(forms.Form):
    name = forms.CharField(max_length=200, help_text="The vendor's company or product name.")
    slug = forms.CharField(
        max_length=41,
        help_text="Lowercase letters, digits and dashes, starting with a letter. Names the "
        "vendor's database schema; it cannot be changed later.",
        widget=forms.TextInput(attrs={"autocapitalize": "none", "spellcheck": "false"}),
    )
    domain = forms.CharField(
        max_length=253,
        widget=forms.TextInput(attrs={"autocapitalize": "none", "spellcheck": "false"}),
    )
    timezone = forms.ChoiceField(
        label="Time zone",
        choices=timezone_choices,
        initial="UTC",
        help_text="Billing months open and close at midnight in this time zone.",
    )
    currency = forms.CharField(
        max_length=3,
        min_length=3,
        initial="USD",
        label="Default currency",
        help_text="ISO 4217 code, e.g. USD, EUR or GBP.",
        widget=forms.TextInput(attrs={"autocapitalize": "characters", "size": 4}),
    )
    admin_email = forms.EmailField(
        label="First admin's email",
        help_text="Invited by email to set a password and run the vendor's console.",
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["domain"].help_text = (
            f"The host name of the vendor's console, portal and API, e.g. "
            f"acme.{settings.PLATFORM_DOMAIN}. Point its DNS at this platform."
        )


class VendorSuspendForm(forms.Form):
    reason = forms.CharField(
        max_length=500,
        label="Reason for the suspension",
        help_text="Kept with the vendor and in the audit log.",
        widget=forms.Textarea(attrs={"rows": 3}),
    )

    def clean_reason(self) -> str:
        reason = self.cleaned_data["reason"].strip()
        if not reason:
            raise forms.ValidationError("Give a reason for the suspension.")
        return reason
