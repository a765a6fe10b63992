"""Reads of the payments app."""

from __future__ import annotations

from django.db.models import QuerySet

from .models import Payment, Refund


def partner_payments(partner_id: int) -> QuerySet[Payment]:
    return Payment.objects.filter(partner_id=partner_id).select_related(
        "invoice", "invoice__period"
    )


def partner_refunds(partner_id: int) -> QuerySet[Refund]:
    return Refund.objects.filter(partner_id=partner_id).select_related("invoice", "credit_note")


def invoice_payments(invoice_id: int) -> list[Payment]:
    return list(Payment.objects.filter(invoice_id=invoice_id).order_by("created_at", "id"))


def invoice_refunds(invoice_id: int) -> list[Refund]:
    return list(
        Refund.objects.filter(invoice_id=invoice_id)
        .select_related("credit_note")
        .order_by("created_at", "id")
    )
