"""Serializers of the partners API: output shapes, and input shapes that only check form.

Input serializers check types and presence; every rule about the data itself (a valid currency,
a free external id, which status may follow which) lives in the services, whose `PartnerError`
the views turn into field errors. Input serializers refuse fields they do not know, so a typo or
a read-only field (`tier`, `created_at`) answers 400 instead of being silently ignored.
"""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from core.api.inputs import StrictInputSerializer
from partners.enums import ClientStatus, PartnerStatus
from partners.models import Client, Partner, Tier, Track

# --- output ----------------------------------------------------------------------------------


class PartnerSerializer(serializers.ModelSerializer):
    track = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    tier = serializers.SlugRelatedField(
        slug_field="name", read_only=True, allow_null=True, help_text="The tier's name, or null."
    )
    tax_rate = serializers.DecimalField(
        max_digits=5, decimal_places=2, read_only=True, help_text='Percent, e.g. "19.00".'
    )

    class Meta:
        model = Partner
        fields = [
            "id",
            "name",
            "external_id",
            "status",
            "status_since",
            "track",
            "tier",
            "tier_id",
            "currency",
            "country",
            "billing_email",
            "billing_address",
            "tax_rate",
            "created_at",
        ]
        read_only_fields = fields


class ClientSerializer(serializers.ModelSerializer):
    partner = serializers.IntegerField(source="partner_id", read_only=True)

    class Meta:
        model = Client
        fields = [
            "id",
            "partner",
            "name",
            "external_id",
            "status",
            "service_tier",
            "started_on",
            "ended_on",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class TrackSerializer(serializers.ModelSerializer):
    program = serializers.CharField(source="program.name", read_only=True)

    class Meta:
        model = Track
        fields = [
            "id",
            "program",
            "name",
            "slug",
            "description",
            "accepts_applications",
            "position",
        ]
        read_only_fields = fields


class TierRequirementsSerializer(serializers.ModelSerializer):
    class Meta:
        model = Tier
        fields = [
            "min_mrr",
            "min_active_clients",
            "min_certified_technicians",
            "requires_agreement",
        ]
        read_only_fields = fields


class TierBenefitsSerializer(serializers.ModelSerializer):
    class Meta:
        model = Tier
        fields = [
            "wholesale_discount_pct",
            "commission_rate_pct",
            "growth_bonus_eligible",
            "support_sla",
        ]
        read_only_fields = fields


class TierSerializer(serializers.ModelSerializer):
    track = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    requirements = TierRequirementsSerializer(source="*", read_only=True)
    benefits = TierBenefitsSerializer(source="*", read_only=True)

    class Meta:
        model = Tier
        fields = ["id", "track", "track_id", "name", "rank", "requirements", "benefits"]
        read_only_fields = fields


# Statuses a partner may be created in (suspension and termination come later, with a reason).
NEW_PARTNER_STATUS_CHOICES = [
    (status.value, status.label)
    for status in (PartnerStatus.APPLIED, PartnerStatus.ONBOARDING, PartnerStatus.ACTIVE)
]


class FieldErrorSerializer(serializers.Serializer):
    field = serializers.CharField(help_text="The input field; empty for the request as a whole.")
    code = serializers.CharField()
    message = serializers.CharField()


class ProblemSerializer(serializers.Serializer):
    """An error (application/problem+json, RFC 9457)."""

    type = serializers.CharField()
    title = serializers.CharField()
    status = serializers.IntegerField()
    detail = serializers.CharField()
    errors = FieldErrorSerializer(many=True, required=False, help_text="For validation errors.")


# --- input -----------------------------------------------------------------------------------


_PARTNER_OUTPUT = frozenset(PartnerSerializer.Meta.fields)
_CLIENT_OUTPUT = frozenset(ClientSerializer.Meta.fields)


class PartnerCreateSerializer(StrictInputSerializer):
    """A new partner (vendor keys only). It starts in its track's entry tier."""

    read_only_names = _PARTNER_OUTPUT
    name = serializers.CharField()
    external_id = serializers.CharField(required=False, allow_blank=True)
    track = serializers.SlugRelatedField(
        slug_field="slug", queryset=Track.objects.all(), help_text="The track's slug."
    )
    status = serializers.ChoiceField(
        choices=NEW_PARTNER_STATUS_CHOICES,
        required=False,
        help_text="Defaults to onboarding.",
    )
    currency = serializers.CharField(help_text="ISO 4217, e.g. EUR.")
    country = serializers.CharField(help_text="ISO 3166-1 alpha-2, e.g. DE.")
    billing_email = serializers.CharField(required=False, allow_blank=True)
    billing_address = serializers.CharField(required=False, allow_blank=True)
    tax_rate = serializers.CharField(required=False, help_text='Percent, e.g. "19.00".')


class PartnerUpdateSerializer(StrictInputSerializer):
    """PATCH: any subset. `status` (with `status_reason`, `status_effective_on`) moves the
    partner along its lifecycle; it is for vendor keys only, like every field but the billing
    contact ones (PARTNER_KEY_FIELDS)."""

    read_only_names = _PARTNER_OUTPUT
    name = serializers.CharField(required=False)
    external_id = serializers.CharField(required=False, allow_blank=True)
    currency = serializers.CharField(required=False)
    country = serializers.CharField(required=False)
    billing_email = serializers.CharField(required=False, allow_blank=True)
    billing_address = serializers.CharField(required=False, allow_blank=True)
    tax_rate = serializers.CharField(required=False, help_text='Percent, e.g. "19.00".')
    status = serializers.ChoiceField(choices=PartnerStatus.choices, required=False)
    status_reason = serializers.CharField(
        required=False, allow_blank=True, write_only=True, help_text="Why the status changes."
    )
    status_effective_on = serializers.DateField(
        required=False, write_only=True, help_text="When the status change takes effect."
    )

    # What a partner key may change on its own partner: its billing contact.
    PARTNER_KEY_FIELDS = frozenset({"billing_email", "country", "billing_address"})

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if "status" not in attrs:
            for name in ("status_reason", "status_effective_on"):
                if name in attrs:
                    raise serializers.ValidationError(
                        {name: ["Only together with `status`."]}, code="requires_status"
                    )
        return attrs


class ClientCreateSerializer(StrictInputSerializer):
    """A new client of a partner."""

    read_only_names = _CLIENT_OUTPUT
    partner = serializers.IntegerField(
        required=False,
        help_text="The partner's id. Required for vendor keys; partner keys may leave it out.",
    )
    name = serializers.CharField()
    external_id = serializers.CharField(help_text="Unique per partner.")
    status = serializers.ChoiceField(choices=ClientStatus.choices, required=False)
    service_tier = serializers.CharField(required=False, allow_blank=True)
    started_on = serializers.DateField(required=False, help_text="Defaults to today.")
    ended_on = serializers.DateField(required=False, allow_null=True)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        _check_end_date(attrs)
        return attrs


class ClientUpdateSerializer(StrictInputSerializer):
    """PATCH: any subset. A new `status` moves the client along its lifecycle; churning
    needs `ended_on` and is final."""

    read_only_names = _CLIENT_OUTPUT
    partner = serializers.IntegerField(
        required=False, help_text="Clients cannot move; only the current partner is accepted."
    )
    name = serializers.CharField(required=False)
    external_id = serializers.CharField(required=False)
    service_tier = serializers.CharField(required=False, allow_blank=True)
    started_on = serializers.DateField(required=False)
    status = serializers.ChoiceField(choices=ClientStatus.choices, required=False)
    ended_on = serializers.DateField(
        required=False, allow_null=True, help_text="Required with status churned, only then."
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        _check_end_date(attrs)
        return attrs


def _check_end_date(attrs: dict[str, Any]) -> None:
    churned = attrs.get("status") == ClientStatus.CHURNED
    if churned and attrs.get("ended_on") is None:
        raise serializers.ValidationError(
            {"ended_on": ["A churned client needs the date it ended."]}, code="required"
        )
    if not churned and attrs.get("ended_on") is not None:
        raise serializers.ValidationError(
            {"ended_on": ['An end date is given only with status "churned".']}, code="invalid"
        )
