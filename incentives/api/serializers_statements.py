"""Serializers of statements/, payouts/ and statement disputes: decimals as strings in the
statement's currency, months as "2026-10"."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from billing.api.serializers import MonthField
from billing.api.serializers_invoices import MoneyField, money_text
from core.api.inputs import StrictInputSerializer

from ..models import LedgerEntry, Payout, Statement, StatementDispute


class EntrySerializer(serializers.ModelSerializer):
    month = MonthField(read_only=True)
    amount = MoneyField("amount")
    invoice_number = serializers.CharField(
        source="invoice.number", read_only=True, allow_null=True, default=None
    )

    class Meta:
        model = LedgerEntry
        fields = [
            "id",
            "kind",
            "month",
            "amount",
            "rate_pct",
            "description",
            "invoice",
            "invoice_number",
            "client",
            "product",
            "credit_note",
            "payout",
        ]
        read_only_fields = fields


class DisputeSerializer(serializers.ModelSerializer):
    held_amount = MoneyField("held_amount", currency="entry.currency")
    corrected_amount = serializers.SerializerMethodField()

    class Meta:
        model = StatementDispute
        fields = [
            "id",
            "statement",
            "entry",
            "reason",
            "status",
            "held_amount",
            "corrected_amount",
            "resolution",
            "created_at",
            "resolved_at",
        ]
        read_only_fields = fields

    @extend_schema_field({"type": "string", "format": "decimal", "nullable": True})
    def get_corrected_amount(self, obj: StatementDispute) -> str | None:
        if obj.corrected_amount is None:
            return None
        return money_text(obj.corrected_amount, obj.entry.currency)


class PayoutSerializer(serializers.ModelSerializer):
    amount = MoneyField("amount")
    credited_invoice_number = serializers.CharField(
        source="credited_invoice.number", read_only=True, allow_null=True, default=None
    )

    class Meta:
        model = Payout
        fields = [
            "id",
            "statement",
            "partner",
            "method",
            "currency",
            "amount",
            "status",
            "stripe_transfer_id",
            "credited_invoice",
            "credited_invoice_number",
            "failure",
            "created_at",
            "paid_at",
        ]
        read_only_fields = fields


class StatementSerializer(serializers.ModelSerializer):
    month = MonthField(read_only=True)
    opening_balance = MoneyField("opening_balance")
    accrued = MoneyField("accrued")
    bonuses = MoneyField("bonuses")
    clawbacks = MoneyField("clawbacks")
    adjustments = MoneyField("adjustments")
    held = MoneyField("held", help_text="Held by open disputes, not paid until resolved.")
    payable = MoneyField(
        "payable", help_text="Draft: what approval would pay. Approved: what was paid out."
    )
    carried_forward = MoneyField("carried_forward")
    entries = EntrySerializer(many=True, read_only=True)
    disputes = DisputeSerializer(many=True, read_only=True)
    payout = serializers.SerializerMethodField()

    class Meta:
        model = Statement
        fields = [
            "id",
            "partner",
            "month",
            "currency",
            "status",
            "opening_balance",
            "accrued",
            "bonuses",
            "clawbacks",
            "adjustments",
            "held",
            "payable",
            "carried_forward",
            "approved_at",
            "entries",
            "disputes",
            "payout",
        ]
        read_only_fields = fields

    @extend_schema_field(PayoutSerializer(allow_null=True))
    def get_payout(self, obj: Statement) -> dict | None:
        payout = getattr(obj, "payout", None)
        return PayoutSerializer(payout).data if payout is not None else None


class DisputeCreateSerializer(StrictInputSerializer):
    entry = serializers.IntegerField(help_text="The id of the statement's entry disputed.")
    reason = serializers.CharField(max_length=1000)
