"""Serializers of invoices and credit notes: output shapes, and the credit-note input shape.

Amounts are strings with the currency's minor-unit digits ("12.50", JPY "1250"); effective unit
prices keep up to 6 decimals ("0.0125"); quantities drop trailing zeros ("40", "10.483871");
months are "YYYY-MM". The credit-note input only checks form: `billing.services.credit_notes`
decides what may be credited.
"""

from __future__ import annotations

import operator
from decimal import Decimal
from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from billing.api.serializers import DECIMAL_STRING, MonthField, price_text
from billing.models import CreditNote, CreditNoteLine, Invoice, InvoiceLine
from core.api.inputs import DecimalStringField, StrictInputSerializer
from core.money import minor_units


def money_text(value: Decimal, currency: str) -> str:
    """A stored amount with the currency's minor-unit digits (EUR "12.50", JPY "1250")."""
    return f"{value.quantize(Decimal(1).scaleb(-minor_units(currency))):f}"


def quantity_text(value: Decimal) -> str:
    text = f"{value:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


@extend_schema_field({**DECIMAL_STRING, "example": "12.50"})
class MoneyField(serializers.Field):
    """An amount of the object (`attr`) in the currency found at `currency` (a dotted path)."""

    def __init__(self, attr: str, currency: str = "currency", **kwargs: Any) -> None:
        self.attr = attr
        self.currency_of = operator.attrgetter(currency)
        super().__init__(source="*", read_only=True, **kwargs)

    def to_representation(self, obj: Any) -> str:
        return money_text(getattr(obj, self.attr), self.currency_of(obj))


@extend_schema_field({**DECIMAL_STRING, "example": "40"})
class QuantityField(serializers.Field):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(read_only=True, **kwargs)

    def to_representation(self, value: Decimal) -> str:
        return quantity_text(value)


@extend_schema_field({**DECIMAL_STRING, "example": "0.50"})
class UnitPriceField(serializers.Field):
    """The line's effective unit price: the currency's digits at least, up to 6 when it has
    them."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(source="*", read_only=True, **kwargs)

    def to_representation(self, line: InvoiceLine) -> str:
        return price_text(line.unit_price, line.invoice.currency)


_TIER_BREAKDOWN = {
    "type": "array",
    "description": (
        "How the amount was priced, tier by tier (graduated and volume charges; for a pooled "
        "charge, the pool's breakdown over all clients): units in (`from`, `up_to`], priced at "
        "`unit_price` plus `flat_fee`. Exact figures, before rounding. Empty for other models."
    ),
    "items": {
        "type": "object",
        "properties": {
            "from": {"type": "integer"},
            "up_to": {"type": "integer", "nullable": True},
            "units": DECIMAL_STRING,
            "unit_price": DECIMAL_STRING,
            "flat_fee": DECIMAL_STRING,
            "amount": DECIMAL_STRING,
        },
    },
}


@extend_schema_field(_TIER_BREAKDOWN)
class TierBreakdownField(serializers.JSONField):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(read_only=True, **kwargs)


class InvoiceLineSerializer(serializers.ModelSerializer):
    client = serializers.IntegerField(source="client_id", help_text="The client's id.")
    client_external_id = serializers.CharField(source="client.external_id")
    price_plan = serializers.CharField(source="price_plan_code", help_text="The plan's code.")
    meter = serializers.CharField(
        source="meter.code",
        allow_null=True,
        help_text="The meter's code for a usage charge; null for seats.",
    )
    seats = serializers.BooleanField(help_text="A seat charge.")
    quantity = QuantityField()
    unit_price = UnitPriceField(help_text="Effective: amount / quantity.")
    amount = MoneyField("amount", "invoice.currency")
    discount = MoneyField("discount", "invoice.currency", help_text="The tier discount.")
    net_amount = MoneyField("net_amount", "invoice.currency", help_text="amount − discount.")
    tiers = TierBreakdownField()
    adjustment_of = MonthField(
        allow_null=True,
        read_only=True,
        help_text="For a prior-period adjustment: the month it corrects; otherwise null.",
    )

    class Meta:
        model = InvoiceLine
        fields = [
            "id",
            "position",
            "client",
            "client_external_id",
            "description",
            "price_plan",
            "meter",
            "seats",
            "quantity",
            "unit_price",
            "amount",
            "discount",
            "net_amount",
            "pooled",
            "tiers",
            "adjustment_of",
        ]
        read_only_fields = fields


class BillToSerializer(serializers.Serializer):
    name = serializers.CharField(source="bill_to_name")
    email = serializers.CharField(source="bill_to_email")
    address = serializers.CharField(source="bill_to_address")
    country = serializers.CharField(source="bill_to_country")


class InvoiceSerializer(serializers.ModelSerializer):
    number = serializers.CharField(
        allow_null=True, help_text="Issued at finalize (gapless); null while a draft."
    )
    partner = serializers.IntegerField(source="partner_id", help_text="The partner's id.")
    month = MonthField(source="period.month", read_only=True, help_text="The billed month.")
    subtotal = MoneyField("subtotal", help_text="Σ line amounts.")
    discount = MoneyField("discount", help_text="Σ line discounts.")
    tax = MoneyField("tax", help_text="round((subtotal − discount) × tax_rate).")
    credits = MoneyField(
        "credits",
        help_text="Credits given when the invoice was finalized (commission payouts); 0 on drafts.",
    )
    total = MoneyField("total", help_text="subtotal − discount + tax − credits.")
    credited = MoneyField("credited", help_text="Σ totals of the invoice's credit notes.")
    discount_pct = serializers.DecimalField(
        max_digits=5, decimal_places=2, help_text='The tier discount in percent, e.g. "10.00".'
    )
    tax_rate = serializers.DecimalField(
        max_digits=5, decimal_places=2, help_text='Percent, e.g. "19.00".'
    )
    tier = serializers.CharField(source="tier_name", help_text="The partner's tier when billed.")
    bill_to = BillToSerializer(source="*", help_text="The billing details when billed.")
    lines = InvoiceLineSerializer(many=True)

    class Meta:
        model = Invoice
        fields = [
            "id",
            "number",
            "partner",
            "month",
            "status",
            "currency",
            "subtotal",
            "discount",
            "tax",
            "credits",
            "total",
            "credited",
            "discount_pct",
            "tax_rate",
            "tier",
            "bill_to",
            "issued_on",
            "finalized_at",
            "lines",
        ]
        read_only_fields = fields


class CreditNoteLineSerializer(serializers.ModelSerializer):
    invoice_line = serializers.IntegerField(
        source="invoice_line_id",
        allow_null=True,
        help_text="The credited invoice line's id; null for a credit of the whole invoice.",
    )
    amount = MoneyField("amount", "credit_note.currency", help_text="Before tax.")

    class Meta:
        model = CreditNoteLine
        fields = ["invoice_line", "description", "amount"]
        read_only_fields = fields


class CreditNoteSerializer(serializers.ModelSerializer):
    invoice = serializers.IntegerField(source="invoice_id", help_text="The invoice's id.")
    invoice_number = serializers.CharField(source="invoice.number")
    subtotal = MoneyField("subtotal", help_text="Σ credited amounts, before tax.")
    tax = MoneyField("tax", help_text="round(subtotal × the invoice's tax rate).")
    total = MoneyField("total", help_text="subtotal + tax.")
    lines = CreditNoteLineSerializer(many=True)

    class Meta:
        model = CreditNote
        fields = [
            "id",
            "number",
            "invoice",
            "invoice_number",
            "reason",
            "currency",
            "lines",
            "subtotal",
            "tax",
            "total",
            "created_at",
        ]
        read_only_fields = fields


_CREDIT_NOTE_OUTPUT = frozenset(CreditNoteSerializer.Meta.fields) - {"invoice", "reason", "lines"}


class CreditLineInputSerializer(StrictInputSerializer):
    invoice_line = serializers.IntegerField(help_text="The id of a line of the invoice.")
    amount = DecimalStringField(
        max_digits=18,
        decimal_places=4,
        help_text="Before tax; at most what is left of the line's net amount.",
    )
    description = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=300,
        help_text='Defaults to "Credit: <the line\'s description>".',
    )


class CreditNoteCreateSerializer(StrictInputSerializer):
    read_only_names = _CREDIT_NOTE_OUTPUT
    invoice = serializers.IntegerField(help_text="The id of a finalized (open or paid) invoice.")
    reason = serializers.CharField(max_length=500)
    lines = CreditLineInputSerializer(
        many=True,
        required=False,
        allow_empty=False,
        help_text="Credit these lines; or give `amount` instead.",
    )
    amount = DecimalStringField(
        max_digits=18,
        decimal_places=4,
        required=False,
        help_text="Credit this much of the whole invoice, before tax; or give `lines` instead.",
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if ("lines" in attrs) == ("amount" in attrs):
            raise serializers.ValidationError(
                {
                    "lines": [
                        "Give either lines (credit chosen lines) or amount (credit the whole "
                        "invoice), not both and not neither."
                    ]
                },
                code="lines_or_amount",
            )
        return attrs
