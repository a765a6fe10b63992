"""Query-string filters of the partners API (django-filter; they appear in the OpenAPI schema)."""

from __future__ import annotations

import django_filters
from django import forms
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field

from partners.enums import ClientStatus, PartnerStatus
from partners.models import Client, Partner, Tier


@extend_schema_field(OpenApiTypes.INT)
class IdFilter(django_filters.Filter):
    """An integer id (django-filter's NumberFilter would take 1.5 and documents a number)."""

    field_class = forms.IntegerField


class PartnerFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=PartnerStatus.choices)
    track = django_filters.CharFilter(field_name="track__slug", help_text="The track's slug.")
    tier = django_filters.CharFilter(
        field_name="tier__name", lookup_expr="iexact", help_text="The tier's name."
    )
    tier_id = IdFilter(field_name="tier_id", help_text="The tier's id.")
    country = django_filters.CharFilter(
        field_name="country", lookup_expr="iexact", help_text="ISO 3166-1 alpha-2, e.g. DE."
    )

    class Meta:
        model = Partner
        fields = ["status", "track", "tier", "tier_id", "country"]


class ClientFilter(django_filters.FilterSet):
    partner = IdFilter(field_name="partner_id", help_text="The partner's id.")
    status = django_filters.ChoiceFilter(choices=ClientStatus.choices)
    external_id = django_filters.CharFilter(field_name="external_id")

    class Meta:
        model = Client
        fields = ["partner", "status", "external_id"]


class TierFilter(django_filters.FilterSet):
    track = django_filters.CharFilter(field_name="track__slug", help_text="The track's slug.")

    class Meta:
        model = Tier
        fields = ["track"]
