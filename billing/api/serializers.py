"""Serializers of the catalog API: output shapes, and input shapes that only check form.

Input serializers check types and presence and refuse unknown fields; every rule about the
prices themselves (which fields each charge model needs, tier order, currency decimals) lives in
`billing.services.catalog`, whose `BillingError` names the same field paths
(`charges[1].tiers[0].up_to`).
"""

from __future__ import annotations

import datetime
import re
from decimal import Decimal
from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from billing.enums import Aggregation, ChargeModel, SeatCountingRule
from billing.models import Charge, ChargeTier, Meter, PricePlan, PricePlanVersion
from billing.services.catalog import currency_decimals
from core.api.inputs import DecimalStringField, StrictInputSerializer

_MONTH = re.compile(r"^(\d{4})-(\d{2})(?:-01)?$")
DECIMAL_STRING = {"type": "string", "format": "decimal", "example": "0.05"}
NULLABLE_DECIMAL_STRING = {**DECIMAL_STRING, "nullable": True}


def price_text(value: Decimal | None, currency: str) -> str | None:
    """A stored price as a string: at least the currency's minor-unit digits ("3.00"), more
    only when the price has them ("0.0125")."""
    if value is None:
        return None
    step = Decimal(1).scaleb(-currency_decimals(currency))
    if value == value.quantize(step):
        return f"{value.quantize(step):f}"
    return f"{value.normalize():f}"


def month_text(day: datetime.date) -> str:
    return f"{day:%Y-%m}"


@extend_schema_field({"type": "string", "pattern": r"^\d{4}-\d{2}$", "example": "2026-10"})
class MonthField(serializers.Field):
    """A month as "2026-10" (the first of a month, "2026-10-01", is accepted too)."""

    default_error_messages = {"invalid": 'Give the month as YYYY-MM, e.g. "2026-10".'}

    def to_internal_value(self, data: Any) -> datetime.date:
        match = _MONTH.match(data) if isinstance(data, str) else None
        if match is None:
            self.fail("invalid")
        try:
            return datetime.date(int(match[1]), int(match[2]), 1)
        except ValueError:
            self.fail("invalid")

    def to_representation(self, value: datetime.date) -> str:
        return month_text(value)


# --- output ----------------------------------------------------------------------------------


class MeterSerializer(serializers.ModelSerializer):
    unique_property = serializers.SerializerMethodField(
        help_text="The event property whose distinct values a unique_count meter counts."
    )

    class Meta:
        model = Meter
        fields = ["code", "name", "unit", "aggregation", "unique_property", "created_at"]
        read_only_fields = fields

    @extend_schema_field({"type": "string", "nullable": True})
    def get_unique_property(self, meter: Meter) -> str | None:
        return meter.unique_property or None


class ChargeTierSerializer(serializers.Serializer):
    up_to = serializers.IntegerField(
        allow_null=True, help_text="The tier's last unit; null for the last, open-ended tier."
    )
    unit_price = serializers.SerializerMethodField()
    flat_fee = serializers.SerializerMethodField()

    @extend_schema_field(DECIMAL_STRING)
    def get_unit_price(self, tier: ChargeTier) -> str:
        return price_text(tier.unit_price, self.context["currency"])

    @extend_schema_field(DECIMAL_STRING)
    def get_flat_fee(self, tier: ChargeTier) -> str:
        return price_text(tier.flat_fee, self.context["currency"])


class ChargeSerializer(serializers.Serializer):
    """Every key is always present; those the charge's model does not use are null."""

    meter = serializers.SerializerMethodField(help_text="The meter's code; null for seats.")
    seats = serializers.BooleanField()
    model = serializers.ChoiceField(choices=ChargeModel.choices)
    unit_price = serializers.SerializerMethodField(help_text="per_unit charges.")
    tiers = serializers.SerializerMethodField(help_text="graduated and volume charges.")
    package_size = serializers.IntegerField(allow_null=True, help_text="package charges.")
    package_price = serializers.SerializerMethodField(help_text="package charges.")
    flat_fee = serializers.SerializerMethodField(help_text="flat charges.")
    pooled = serializers.BooleanField(help_text="Tiers counted over all of a partner's clients.")
    counting_rule = serializers.SerializerMethodField(help_text="Seat charges.")

    @extend_schema_field({"type": "string", "nullable": True})
    def get_meter(self, charge: Charge) -> str | None:
        return charge.meter.code if charge.meter_id else None

    @extend_schema_field(NULLABLE_DECIMAL_STRING)
    def get_unit_price(self, charge: Charge) -> str | None:
        return price_text(charge.unit_price, self.context["currency"])

    @extend_schema_field(ChargeTierSerializer(many=True))
    def get_tiers(self, charge: Charge) -> list[dict]:
        return ChargeTierSerializer(charge.tiers.all(), many=True, context=self.context).data

    @extend_schema_field(NULLABLE_DECIMAL_STRING)
    def get_package_price(self, charge: Charge) -> str | None:
        return price_text(charge.package_price, self.context["currency"])

    @extend_schema_field(NULLABLE_DECIMAL_STRING)
    def get_flat_fee(self, charge: Charge) -> str | None:
        return price_text(charge.flat_fee, self.context["currency"])

    @extend_schema_field({"type": "string", "enum": SeatCountingRule.values, "nullable": True})
    def get_counting_rule(self, charge: Charge) -> str | None:
        return charge.counting_rule or None


def charges_data(version: PricePlanVersion, currency: str) -> list[dict]:
    return ChargeSerializer(version.charges.all(), many=True, context={"currency": currency}).data


class PricePlanVersionSummarySerializer(serializers.Serializer):
    version = serializers.IntegerField()
    effective_from = MonthField()


class PricePlanSerializer(serializers.ModelSerializer):
    """A plan with the charges of its current version: the one in effect this month (in the
    vendor's time zone), or the first one while the plan has not started."""

    version = serializers.SerializerMethodField(help_text="The current version's number.")
    effective_from = serializers.SerializerMethodField(
        help_text="The current version's first month."
    )
    charges = serializers.SerializerMethodField()
    versions = serializers.SerializerMethodField(help_text="Every version, oldest first.")

    class Meta:
        model = PricePlan
        fields = [
            "code",
            "name",
            "currency",
            "version",
            "effective_from",
            "charges",
            "versions",
            "created_at",
        ]
        read_only_fields = fields

    def _current(self, plan: PricePlan) -> PricePlanVersion:
        # Versions are prefetched oldest first: no query per plan.
        month = self.context["month"]
        versions = list(plan.versions.all())
        current = versions[0]
        for version in versions:
            if version.effective_from <= month:
                current = version
        return current

    def get_version(self, plan: PricePlan) -> int:
        return self._current(plan).version

    @extend_schema_field({"type": "string", "pattern": r"^\d{4}-\d{2}$", "example": "2026-10"})
    def get_effective_from(self, plan: PricePlan) -> str:
        return month_text(self._current(plan).effective_from)

    @extend_schema_field(ChargeSerializer(many=True))
    def get_charges(self, plan: PricePlan) -> list[dict]:
        return charges_data(self._current(plan), plan.currency)

    @extend_schema_field(PricePlanVersionSummarySerializer(many=True))
    def get_versions(self, plan: PricePlan) -> list[dict]:
        return PricePlanVersionSummarySerializer(plan.versions.all(), many=True).data


class PricePlanVersionSerializer(serializers.Serializer):
    """One version of a plan with its charges (the answer to a revision)."""

    plan = serializers.CharField(source="plan.code")
    currency = serializers.CharField(source="plan.currency")
    version = serializers.IntegerField()
    effective_from = MonthField()
    charges = serializers.SerializerMethodField()

    @extend_schema_field(ChargeSerializer(many=True))
    def get_charges(self, version: PricePlanVersion) -> list[dict]:
        return charges_data(version, version.plan.currency)


# --- input -----------------------------------------------------------------------------------


def _decimal_input(help_text: str, **kwargs: Any) -> DecimalStringField:
    return DecimalStringField(max_digits=18, decimal_places=6, help_text=help_text, **kwargs)


class MeterCreateSerializer(StrictInputSerializer):
    read_only_names = frozenset(MeterSerializer.Meta.fields)
    code = serializers.CharField(help_text="Unique; usage events name the meter by it.")
    name = serializers.CharField()
    unit = serializers.CharField(help_text="What one unit is, e.g. GB or device.")
    aggregation = serializers.ChoiceField(choices=Aggregation.choices)
    unique_property = serializers.CharField(
        required=False,
        allow_blank=True,
        allow_null=True,
        help_text="unique_count meters (only): the event property whose distinct values count.",
    )


class ChargeTierInputSerializer(StrictInputSerializer):
    up_to = serializers.IntegerField(
        required=False,
        allow_null=True,
        help_text="The tier's last unit, above the previous tier's; null (or left out) for the "
        "last tier only.",
    )
    unit_price = _decimal_input("Per unit in this tier.")
    flat_fee = _decimal_input(
        "Charged once when the tier is reached (default 0).", required=False, allow_null=True
    )


class ChargeInputSerializer(StrictInputSerializer):
    meter = serializers.CharField(
        required=False, allow_null=True, help_text="A meter's code; or leave out and set seats."
    )
    seats = serializers.BooleanField(required=False, help_text="true: a charge on seats.")
    model = serializers.ChoiceField(choices=ChargeModel.choices)
    unit_price = _decimal_input("per_unit charges.", required=False, allow_null=True)
    tiers = ChargeTierInputSerializer(
        many=True, required=False, help_text="graduated and volume charges, in ascending order."
    )
    package_size = serializers.IntegerField(
        required=False, allow_null=True, help_text="package charges: units per package."
    )
    package_price = _decimal_input(
        "package charges: the price of each started package.", required=False, allow_null=True
    )
    flat_fee = _decimal_input("flat charges: the fee per period.", required=False, allow_null=True)
    pooled = serializers.BooleanField(
        required=False,
        help_text="graduated and volume charges: count tiers over all of a partner's clients.",
    )
    counting_rule = serializers.ChoiceField(
        choices=SeatCountingRule.choices,
        required=False,
        allow_null=True,
        help_text="Seat charges: how a month's seat quantities count.",
    )


class PricePlanCreateSerializer(StrictInputSerializer):
    read_only_names = frozenset(PricePlanSerializer.Meta.fields) - {"charges", "effective_from"}
    code = serializers.CharField(help_text="Unique; subscriptions name the plan by it.")
    name = serializers.CharField()
    currency = serializers.CharField(help_text="ISO 4217, e.g. EUR.")
    effective_from = MonthField(
        required=False, help_text="The first month it prices (default: this month)."
    )
    charges = ChargeInputSerializer(many=True)


class PricePlanReviseSerializer(StrictInputSerializer):
    effective_from = MonthField(
        help_text="The first month of the new prices: a month that has not begun, after the "
        "plan's latest version."
    )
    charges = ChargeInputSerializer(many=True, help_text="The new version's charges, in full.")
