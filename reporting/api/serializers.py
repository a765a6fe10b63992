"""Serializers of the reporting API: resale prices (output and input) and the margin report
(output only, built from `reporting.selectors.MarginReport`).

Amounts are strings with the currency's minor-unit digits ("12.50"), percentages strings with
two decimals ("25.00"), months "YYYY-MM". The input serializers check form only; the services
decide the rest with readable errors.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from billing.api.serializers import NULLABLE_DECIMAL_STRING, MonthField
from billing.api.serializers_invoices import money_text
from core.api.inputs import StrictInputSerializer
from reporting.enums import ResalePriceKind
from reporting.margin import ClientMargin, Figures, MonthMargin
from reporting.models import ResalePrice
from reporting.selectors import MarginReport, TrendPoint


@extend_schema_field(NULLABLE_DECIMAL_STRING)
class _NullableDecimalText(serializers.CharField):
    """A decimal given as a string (or a number); the service checks it."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(required=False, allow_null=True, allow_blank=True, **kwargs)

    def to_internal_value(self, data: Any) -> str:
        if isinstance(data, bool) or not isinstance(data, str | int | float):
            self.fail("invalid")
        return str(data)


class ResalePriceSerializer(serializers.ModelSerializer):
    product = serializers.CharField(source="product.code", help_text="The product's code.")
    product_name = serializers.CharField(source="product.name")
    client = serializers.IntegerField(
        source="client_id", allow_null=True, help_text="Null: the price for every client."
    )
    effective_from = MonthField(help_text="The first month the price applies to.")
    fixed_price = serializers.SerializerMethodField()
    markup_pct = serializers.SerializerMethodField()

    class Meta:
        model = ResalePrice
        fields = [
            "id",
            "partner",
            "product",
            "product_name",
            "client",
            "effective_from",
            "kind",
            "fixed_price",
            "markup_pct",
            "currency",
            "updated_at",
        ]

    @extend_schema_field(NULLABLE_DECIMAL_STRING)
    def get_fixed_price(self, price: ResalePrice) -> str | None:
        return None if price.fixed_price is None else money_text(price.fixed_price, price.currency)

    @extend_schema_field(NULLABLE_DECIMAL_STRING)
    def get_markup_pct(self, price: ResalePrice) -> str | None:
        return None if price.markup_pct is None else f"{price.markup_pct:f}"


class ResalePriceCreateSerializer(StrictInputSerializer):
    read_only_names = frozenset({"id", "product_name", "currency", "updated_at"})

    partner = serializers.IntegerField(
        required=False, help_text="Optional; a partner key sets its own partner's prices only."
    )
    product = serializers.CharField(max_length=64, help_text="The product's code.")
    client = serializers.IntegerField(
        required=False,
        allow_null=True,
        help_text="A client of the partner, for an override; leave out for every client.",
    )
    effective_from = MonthField(help_text='The first month the price applies to, e.g. "2026-10".')
    kind = serializers.ChoiceField(choices=ResalePriceKind.choices)
    fixed_price = _NullableDecimalText(help_text="For `fixed`: the monthly price per client.")
    markup_pct = _NullableDecimalText(help_text="For `markup`: the percent added to the cost.")


class ResalePriceUpdateSerializer(StrictInputSerializer):
    read_only_names = frozenset(
        {"id", "partner", "product", "product_name", "client", "effective_from", "currency"}
    )

    kind = serializers.ChoiceField(choices=ResalePriceKind.choices, required=False)
    fixed_price = _NullableDecimalText()
    markup_pct = _NullableDecimalText()


# --- the margin report (output) ---------------------------------------------------------------


def _pct(value) -> str | None:
    return None if value is None else f"{value:f}"


def figures_data(figures: Figures, currency: str) -> dict[str, Any]:
    return {
        "vendor_cost": money_text(figures.vendor_cost, currency),
        "resale_revenue": money_text(figures.resale_revenue, currency),
        "margin": money_text(figures.margin, currency),
        "margin_pct": _pct(figures.margin_pct),
    }


def client_data(row: ClientMargin, currency: str) -> dict[str, Any]:
    return {
        "client": row.client_id,
        "client_name": row.name,
        "client_external_id": row.external_id,
        **figures_data(row, currency),
        "credited": money_text(row.credited, currency),
        "unpriced_products": list(row.unpriced),
    }


def trend_data(point: TrendPoint, currency: str) -> dict[str, Any]:
    figures: MonthMargin | None = point.figures
    return {
        "month": f"{point.month:%Y-%m}",
        "status": point.status,
        **(
            figures_data(figures.total, currency)
            if figures is not None
            else {"vendor_cost": None, "resale_revenue": None, "margin": None, "margin_pct": None}
        ),
    }


def margin_data(report: MarginReport | None, *, partner_id: int, currency: str) -> dict[str, Any]:
    """The API's answer; `report` None: nothing billed yet."""
    if report is None:
        zero = figures_data(Figures(), currency)
        return {
            "partner": partner_id,
            "month": None,
            "status": None,
            "currency": currency,
            "results": [],
            "unallocated_credits": money_text(Figures().vendor_cost, currency),
            "totals": zero,
            "trend": [],
            "other_currency_lines": 0,
            "next": None,
        }
    margin = report.margin
    return {
        "partner": partner_id,
        "month": f"{report.billed.month:%Y-%m}",
        "status": report.billed.status,
        "currency": currency,
        "results": [client_data(row, currency) for row in margin.clients],
        "unallocated_credits": money_text(margin.unallocated_credits, currency),
        "totals": figures_data(margin.total, currency),
        "trend": [trend_data(point, currency) for point in report.trend],
        "other_currency_lines": report.other_currency_lines,
        "next": None,
    }


# Shapes for the OpenAPI schema only.

MARGIN_MONTH_STATUSES = [("draft", "Draft (in review)"), ("finalized", "Finalized")]


class MarginFiguresSchema(serializers.Serializer):
    vendor_cost = serializers.CharField(help_text="Σ net of the invoice lines − credits issued.")
    resale_revenue = serializers.CharField(help_text="What the partner's prices earn.")
    margin = serializers.CharField()
    margin_pct = serializers.CharField(allow_null=True, help_text="Margin / revenue × 100.")


class MarginClientSchema(MarginFiguresSchema):
    client = serializers.IntegerField()
    client_name = serializers.CharField()
    client_external_id = serializers.CharField()
    credited = serializers.CharField(help_text="Credit notes issued this month on its lines.")
    unpriced_products = serializers.ListField(
        child=serializers.CharField(), help_text="Products billed without a resale price."
    )


class MarginTrendSchema(serializers.Serializer):
    month = serializers.CharField()
    status = serializers.ChoiceField(choices=MARGIN_MONTH_STATUSES, allow_null=True)
    vendor_cost = serializers.CharField(allow_null=True)
    resale_revenue = serializers.CharField(allow_null=True)
    margin = serializers.CharField(allow_null=True)
    margin_pct = serializers.CharField(allow_null=True)


class MarginSchema(serializers.Serializer):
    partner = serializers.IntegerField()
    month = serializers.CharField(allow_null=True, help_text='"YYYY-MM"; null: nothing billed.')
    status = serializers.ChoiceField(choices=MARGIN_MONTH_STATUSES, allow_null=True)
    currency = serializers.CharField()
    results = MarginClientSchema(many=True)
    unallocated_credits = serializers.CharField(
        help_text="Credits of whole invoices issued this month (already in totals.vendor_cost)."
    )
    totals = MarginFiguresSchema()
    trend = MarginTrendSchema(many=True, help_text="The twelve months up to `month`.")
    other_currency_lines = serializers.IntegerField(
        help_text="Lines of invoices in another currency than the partner's: not counted."
    )
    next = serializers.CharField(allow_null=True)


__all__ = [
    "MarginSchema",
    "ResalePriceCreateSerializer",
    "ResalePriceSerializer",
    "ResalePriceUpdateSerializer",
    "margin_data",
]
