"""Forms of the application, onboarding and partner pages. They validate input; services write."""

from __future__ import annotations

import functools
import unicodedata
from decimal import Decimal
from typing import Any

import django_filters
from babel import Locale
from django import forms
from django.db.models import Q, QuerySet

from partners import spam
from partners.enums import OnboardingStepKind, PartnerStatus
from partners.errors import PartnerError
from partners.models import Partner, Tier, Track
from partners.services.applications import MAX_EXPECTED_CLIENTS


def _sort_key(name: str) -> str:
    # "Åland Islands" sorts with the A's, not after Zimbabwe.
    return unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().casefold()


# Babel's two-letter regions that are not countries (EU, UN, pseudo-locales, unknown).
_NOT_COUNTRIES = {"EU", "EZ", "UN", "QO", "XA", "XB", "ZZ"}


@functools.cache
def country_choices() -> tuple[tuple[str, str], ...]:
    """ISO 3166-1 alpha-2 codes with their English names, sorted by name."""
    names = Locale("en").territories
    codes = [
        code for code in names if len(code) == 2 and code.isalpha() and code not in _NOT_COUNTRIES
    ]
    return tuple(
        sorted(((code, names[code]) for code in codes), key=lambda pair: _sort_key(pair[1]))
    )


def country_name(code: str) -> str:
    return Locale("en").territories.get(code, code)


def add_service_error(form: forms.Form, error: PartnerError, field_map: dict | None = None) -> None:
    """Show a service's refusal on the field it is about, or above the form."""
    field = (field_map or {}).get(error.field, error.field)
    form.add_error(field if field in form.fields else None, str(error))


class CountryField(forms.ChoiceField):
    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("label", "Country")
        super().__init__(choices=[("", "Choose a country"), *country_choices()], **kwargs)
        self.widget.attrs.setdefault("autocomplete", "country-name")


# --- the public application form -------------------------------------------------------------


class ApplicationForm(forms.Form):
    company_name = forms.CharField(
        label="Company",
        max_length=200,
        widget=forms.TextInput(attrs={"autocomplete": "organization"}),
    )
    contact_name = forms.CharField(
        label="Your name",
        max_length=200,
        widget=forms.TextInput(attrs={"autocomplete": "name"}),
    )
    contact_email = forms.EmailField(
        label="Work email",
        help_text="We send the decision here; if approved, this address becomes the owner's login.",
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )
    country = CountryField(help_text="Where your company is based.")
    track = forms.ModelChoiceField(
        label="Program track",
        queryset=Track.objects.none(),
        empty_label="Choose a track",
    )
    expected_client_count = forms.IntegerField(
        label="Clients you expect to manage",
        min_value=0,
        max_value=MAX_EXPECTED_CLIENTS,
        help_text="Roughly, in your first year with us.",
        widget=forms.NumberInput(attrs={"inputmode": "numeric"}),
    )
    message = forms.CharField(
        label="Anything else we should know?",
        required=False,
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 4}),
    )
    # Spam protection: see partners.spam. The honeypot is rendered out of sight by the template.
    website = forms.CharField(required=False, label="Leave this field empty")
    form_token = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["track"].queryset = Track.objects.filter(accepts_applications=True).order_by(
            "position", "name"
        )
        if not self.is_bound:
            self.initial["form_token"] = spam.form_token()

    def visible_fields(self):
        return [f for f in super().visible_fields() if f.name != "website"]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if cleaned.get("website"):
            # Not the real reason in the message: a bot learns nothing from it.
            raise forms.ValidationError(
                "Your application could not be accepted. If you are a person, leave the hidden "
                "“Leave this field empty” field empty and submit again.",
                code="honeypot",
            )
        try:
            spam.check_form_token(cleaned.get("form_token") or "")
        except spam.SpamSuspected as exc:
            raise forms.ValidationError(str(exc), code="token") from None
        return cleaned

    def renew_token_if_refused(self) -> None:
        """After a refused token, the re-rendered form carries a fresh one (a person then
        submits again normally); a valid token is kept so a quick correction is not refused."""
        if any(e.code == "token" for e in self.non_field_errors().as_data()):
            self.data = self.data.copy()
            self.data["form_token"] = spam.form_token()


# --- console: applications -------------------------------------------------------------------


class ApplicationRejectForm(forms.Form):
    reason = forms.CharField(
        label="Reason",
        max_length=1000,
        help_text="Emailed to the applicant as written.",
        widget=forms.Textarea(attrs={"rows": 4}),
    )


# --- console: partners -----------------------------------------------------------------------


class _PartnerProfileFields(forms.Form):
    name = forms.CharField(label="Company name", max_length=200)
    external_id = forms.CharField(
        label="External id",
        max_length=100,
        required=False,
        help_text="The partner's id in your CRM or product, if any. Unique.",
    )
    country = CountryField()
    currency = forms.CharField(
        label="Billing currency",
        max_length=3,
        min_length=3,
        help_text="ISO 4217 code, e.g. EUR.",
    )
    billing_email = forms.EmailField(label="Billing email", required=False)
    tax_rate = forms.DecimalField(
        label="Tax rate (%)",
        min_value=Decimal("0"),
        max_value=Decimal("100"),
        decimal_places=2,
        max_digits=5,
        initial=Decimal("0"),
    )
    billing_address = forms.CharField(
        label="Billing address", required=False, widget=forms.Textarea(attrs={"rows": 3})
    )


class PartnerCreateForm(_PartnerProfileFields):
    field_order = ["name", "track", "tier", "owner_email", "external_id", "country"]

    track = forms.ModelChoiceField(
        label="Track", queryset=Track.objects.none(), empty_label="Choose a track"
    )
    tier = forms.ModelChoiceField(
        label="Starting tier",
        queryset=Tier.objects.none(),
        required=False,
        empty_label="The track's entry tier",
        help_text="Leave empty to start in the track's entry tier.",
    )
    owner_email = forms.EmailField(
        label="Owner's email",
        required=False,
        help_text="We invite this person to the portal as the partner's owner. Optional: "
        "you can invite people later.",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["track"].queryset = Track.objects.order_by("position", "name")
        self.fields["tier"].queryset = Tier.objects.select_related("track").order_by(
            "track__position", "track__name", "rank"
        )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        track, tier = cleaned.get("track"), cleaned.get("tier")
        if track and tier and tier.track_id != track.pk:
            self.add_error("tier", f"{tier.name} is a tier of another track.")
        return cleaned


class PartnerEditForm(_PartnerProfileFields):
    pass


class PartnerLifecycleForm(forms.Form):
    """Suspend, reactivate or terminate: when it takes effect and why."""

    effective_on = forms.DateField(
        label="Effective date",
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        help_text="Today or an earlier day (to record a change made elsewhere).",
    )
    reason = forms.CharField(
        label="Reason", max_length=500, widget=forms.Textarea(attrs={"rows": 2})
    )

    def __init__(self, *args: Any, action: str, today, partner: Partner, **kwargs: Any) -> None:
        kwargs.setdefault("prefix", action)
        super().__init__(*args, **kwargs)
        self.today = today
        self.partner = partner
        self.initial.setdefault("effective_on", today)
        if action == "reactivate":
            self.fields["reason"].required = False

    def clean_effective_on(self):
        day = self.cleaned_data["effective_on"]
        if day > self.today:
            raise forms.ValidationError(
                "Changes take effect now; choose today or an earlier day.", code="future"
            )
        if day < self.partner.status_since:
            raise forms.ValidationError(
                f"Choose a day from {self.partner.status_since:%-d %b %Y}, when the current "
                "status began.",
                code="before_current",
            )
        return day


# --- console: the onboarding checklist of a track --------------------------------------------


class OnboardingStepForm(forms.Form):
    kind = forms.ChoiceField(label="Kind", choices=OnboardingStepKind.choices)
    title = forms.CharField(label="Title", max_length=200)
    description = forms.CharField(
        label="Description",
        required=False,
        help_text="Shown to the partner under the title.",
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    required = forms.BooleanField(
        label="Required for activation",
        required=False,
        initial=True,
    )
    course_code = forms.CharField(
        label="Course code",
        max_length=60,
        required=False,
        help_text="For “Complete a course” steps: the code of the course.",
    )

    def __init__(self, *args: Any, editing: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if editing:
            # A step keeps its kind: the progress recorded for it would mean something else.
            del self.fields["kind"]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        kind = cleaned.get("kind") or self.initial.get("kind")
        if kind == OnboardingStepKind.COMPLETE_COURSE and not cleaned.get("course_code"):
            self.add_error("course_code", "Give the code of the course to complete.")
        return cleaned


# --- portal: billing profile -----------------------------------------------------------------


class BillingProfileForm(forms.Form):
    billing_email = forms.EmailField(
        label="Billing email",
        help_text="Invoices and payment notices go here.",
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )
    country = CountryField(help_text="Where your company is registered.")
    billing_address = forms.CharField(
        label="Billing address",
        help_text="As it should appear on invoices.",
        widget=forms.Textarea(attrs={"rows": 4, "autocomplete": "street-address"}),
    )


# --- console: the partner list's filters -----------------------------------------------------

SORTS = {
    "name": ("name", "id"),
    "-name": ("-name", "-id"),
    "created": ("created_at", "id"),
    "-created": ("-created_at", "-id"),
    "status": ("status", "name", "id"),
    "country": ("country", "name", "id"),
    "tier": ("tier__rank", "name", "id"),
    "-tier": ("-tier__rank", "name", "id"),
}
SORT_CHOICES = [
    ("name", "Name (A–Z)"),
    ("-name", "Name (Z–A)"),
    ("-created", "Newest first"),
    ("created", "Oldest first"),
    ("status", "Status"),
    ("country", "Country"),
    ("-tier", "Tier (highest first)"),
    ("tier", "Tier (lowest first)"),
]


class PartnerFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(
        label="Search",
        method="search",
        widget=forms.TextInput(
            attrs={
                "type": "search",
                "placeholder": "Name, external id or billing email",
                "autocomplete": "off",
            }
        ),
    )
    status = django_filters.ChoiceFilter(
        label="Status", choices=PartnerStatus.choices, empty_label="Any status"
    )
    track = django_filters.ModelChoiceFilter(
        label="Track", queryset=Track.objects.order_by("position", "name"), empty_label="Any track"
    )
    tier = django_filters.ModelChoiceFilter(
        label="Tier",
        queryset=Tier.objects.select_related("track").order_by("track__position", "rank"),
        empty_label="Any tier",
    )
    country = django_filters.ChoiceFilter(label="Country", empty_label="Any country")
    sort = django_filters.ChoiceFilter(
        label="Sort by", choices=SORT_CHOICES, method="sort_by", empty_label=None
    )

    class Meta:
        model = Partner
        fields: list[str] = []

    def __init__(self, *args: Any, countries: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.filters["country"].extra["choices"] = [(c, country_name(c)) for c in countries]

    def search(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(
            Q(name__icontains=value)
            | Q(external_id__icontains=value)
            | Q(billing_email__icontains=value)
        )

    def sort_by(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.order_by(*SORTS.get(value, SORTS["name"]))
