"""Forms of the program, tier and agreement pages. They check types; services check the rules
(and their PartnerError names the field, which `add_service_error` puts next to it)."""

from __future__ import annotations

from decimal import Decimal

from django import forms

from partners.enums import SupportSla
from partners.errors import PartnerError
from partners.models import Tier


def add_service_error(form: forms.Form, error: PartnerError) -> None:
    """Show a service's refusal next to the field it names (or above the form)."""
    field = error.field if error.field in form.fields else None
    form.add_error(field, str(error))


class ProgramForm(forms.Form):
    name = forms.CharField(label="Name", max_length=200)
    description = forms.CharField(
        label="Description", required=False, widget=forms.Textarea(attrs={"rows": 3})
    )


class TrackForm(forms.Form):
    name = forms.CharField(label="Name", max_length=200)
    slug = forms.SlugField(
        label="Slug",
        max_length=60,
        help_text="Lower-case letters, digits and hyphens; used in links, e.g. managed-services.",
    )
    description = forms.CharField(
        label="Description", required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    accepts_applications = forms.BooleanField(
        label="Accepts applications",
        required=False,
        initial=True,
        help_text="Shown as a choice on the public application form.",
    )
    position = forms.IntegerField(
        label="Position",
        min_value=0,
        max_value=32767,
        required=False,
        help_text="Tracks are listed by position. Leave empty to put it last.",
    )


class TierForm(forms.Form):
    name = forms.CharField(label="Name", max_length=100)
    min_mrr = forms.DecimalField(
        label="Minimum MRR",
        min_value=Decimal("0"),
        max_digits=14,
        decimal_places=2,
        initial=Decimal("0"),
        help_text="Monthly recurring revenue, in the partner's currency.",
    )
    min_active_clients = forms.IntegerField(label="Minimum active clients", min_value=0, initial=0)
    min_certified_technicians = forms.IntegerField(
        label="Minimum certified technicians", min_value=0, initial=0
    )
    requires_agreement = forms.BooleanField(
        label="The current agreement must be accepted", required=False, initial=True
    )
    wholesale_discount_pct = forms.DecimalField(
        label="Wholesale discount %",
        min_value=Decimal("0"),
        max_value=Decimal("100"),
        max_digits=5,
        decimal_places=2,
        initial=Decimal("0"),
    )
    commission_rate_pct = forms.DecimalField(
        label="Commission rate %",
        min_value=Decimal("0"),
        max_value=Decimal("100"),
        max_digits=5,
        decimal_places=2,
        initial=Decimal("0"),
    )
    growth_bonus_eligible = forms.BooleanField(label="Eligible for growth bonuses", required=False)
    support_sla = forms.ChoiceField(
        label="Support SLA", choices=SupportSla.choices, initial=SupportSla.STANDARD
    )


class TierPinForm(forms.Form):
    tier = forms.ModelChoiceField(label="Tier", queryset=Tier.objects.none(), empty_label=None)
    reason = forms.CharField(
        label="Reason",
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Kept in the tier history; evaluation leaves a pinned tier alone.",
    )

    def __init__(self, *args, partner, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["tier"].queryset = Tier.objects.filter(track_id=partner.track_id).order_by(
            "rank"
        )
        self.fields["tier"].initial = partner.tier_id


class AgreementPublishForm(forms.Form):
    title = forms.CharField(label="Title", max_length=200)
    body_markdown = forms.CharField(
        label="Text (Markdown)",
        widget=forms.Textarea(attrs={"rows": 18, "spellcheck": "true"}),
        help_text="Headings (#), lists, **bold**, links. Published versions cannot be edited.",
    )
    reaccept_by = forms.DateField(
        label="Partners must re-accept by",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="Required when partners accepted an earlier version; they are emailed now, "
        "7 days and 1 day before.",
    )


class AgreementAcceptForm(forms.Form):
    version = forms.IntegerField(widget=forms.HiddenInput)
    signer_name = forms.CharField(
        label="Your full name",
        max_length=200,
        widget=forms.TextInput(attrs={"autocomplete": "name"}),
    )
    signer_title = forms.CharField(
        label="Your job title",
        max_length=200,
        widget=forms.TextInput(attrs={"autocomplete": "organization-title"}),
    )
    confirm = forms.BooleanField(
        label="I have read this agreement and accept it on behalf of my company.",
        error_messages={"required": "Tick the box to confirm that you accept the agreement."},
    )
