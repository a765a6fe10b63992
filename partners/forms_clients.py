"""Forms of the portal's client and team pages. They only shape the input; the services decide
(and say why not, as a PartnerError naming the field)."""

from __future__ import annotations

from typing import Any

from django import forms

from accounts.enums import PartnerRole

from .enums import ClientStatus
from .services.client_import import MAX_UPLOAD_BYTES, TOO_BIG

# A new client starts as a trial, a paying (active) client or a not-for-resale one; suspended
# and churned are where a client goes later.
CREATE_STATUSES = [
    (ClientStatus.ACTIVE.value, "Active (billed)"),
    (ClientStatus.TRIAL.value, "Trial (not billed)"),
    (ClientStatus.NFR.value, "Not for resale (not billed)"),
]


def _date_input() -> forms.DateInput:
    return forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class ClientForm(forms.Form):
    name = forms.CharField(max_length=200, label="Name")
    external_id = forms.CharField(
        max_length=100,
        label="External id",
        help_text="Your id for this client (from your PSA or RMM); unique among your clients.",
    )
    service_tier = forms.CharField(
        max_length=60,
        required=False,
        label="Service tier",
        help_text="Your own service level for this client, e.g. Essentials or Premium.",
    )
    started_on = forms.DateField(label="Started on", widget=_date_input())

    def __init__(self, *args: Any, service_tiers: list[str] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if service_tiers:
            # Offer the tiers already in use, so "Premium" and "premium " do not both appear.
            self.fields["service_tier"].widget.attrs["list"] = "service-tier-options"
        self.service_tiers = service_tiers or []


class ClientCreateForm(ClientForm):
    status = forms.ChoiceField(
        choices=CREATE_STATUSES,
        label="Status",
        initial=ClientStatus.ACTIVE,
        widget=forms.RadioSelect,
        help_text="Trial and not-for-resale clients are never billed.",
    )


class ClientChurnForm(forms.Form):
    ended_on = forms.DateField(
        label="Ended on",
        widget=_date_input(),
        help_text="The client's last day of service. Churning cannot be undone.",
    )


class ClientImportForm(forms.Form):
    file = forms.FileField(
        label="CSV file",
        help_text="UTF-8, at most 5 MB, with the header row "
        "name,external_id,status,service_tier,started_on[,ended_on].",
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"}),
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > MAX_UPLOAD_BYTES:
            raise forms.ValidationError(TOO_BIG)
        return upload


class TeamInviteForm(forms.Form):
    email = forms.EmailField(label="Email address")
    role = forms.ChoiceField(
        choices=PartnerRole.choices,
        label="Role",
        initial=PartnerRole.TECHNICIAN,
        help_text="Owners manage everything, billing users invoices and payment, technicians "
        "clients and usage; viewers only read.",
    )


class MemberRoleForm(forms.Form):
    role = forms.ChoiceField(choices=PartnerRole.choices, label="Role")


class PartnerApiKeyForm(forms.Form):
    name = forms.CharField(
        max_length=100,
        label="Key name",
        help_text="What will use it, e.g. “ConnectWise sync”. Create one key per integration.",
    )
