"""Payments in the API: the output shape and the manual-payment input shape (form only; the
service decides what may be recorded)."""

from __future__ import annotations

from rest_framework import serializers

from billing.api.serializers_invoices import MoneyField
from core.api.inputs import DecimalStringField, StrictInputSerializer

from ..enums import PaymentKind, PaymentStatus
from ..models import Payment


class PaymentSerializer(serializers.ModelSerializer):
    invoice_number = serializers.CharField(source="invoice.number", read_only=True)
    kind = serializers.ChoiceField(choices=PaymentKind.choices, read_only=True)
    status = serializers.ChoiceField(choices=PaymentStatus.choices, read_only=True)
    amount = MoneyField("amount")
    payment_method = serializers.CharField(source="payment_method_label", read_only=True)
    stripe_payment_intent = serializers.CharField(
        source="stripe_payment_intent_id", read_only=True, allow_null=True
    )
    recorded_by = serializers.CharField(source="recorded_by_label", read_only=True)

    class Meta:
        model = Payment
        fields = [
            "id",
            "invoice",
            "invoice_number",
            "partner",
            "kind",
            "attempt",
            "status",
            "amount",
            "currency",
            "payment_method",
            "stripe_payment_intent",
            "failure_code",
            "failure_message",
            "reference",
            "received_on",
            "recorded_by",
            "settled_at",
            "created_at",
        ]
        read_only_fields = fields


_OUTPUT = frozenset(PaymentSerializer.Meta.fields) - {"invoice", "amount", "reference"}


class ManualPaymentSerializer(StrictInputSerializer):
    read_only_names = _OUTPUT
    invoice = serializers.IntegerField(help_text="The id of an open or payment-failed invoice.")
    amount = DecimalStringField(
        max_digits=18,
        decimal_places=4,
        help_text="What arrived; at most the invoice's outstanding amount. The invoice is paid "
        "when its payments add up to its total.",
    )
    received_on = serializers.DateField(help_text="The day the money arrived.")
    reference = serializers.CharField(max_length=200, help_text="The bank transfer's reference.")
