"""The `data` of billing's outbound webhooks (registered with webhooks.payloads in apps.py).

An invoice as integrators see it in `GET /api/v1/invoices/{id}/`, without the lines (fetch the
invoice for those): amounts as strings with the currency's digits, the month as "YYYY-MM".
A finalized month is built in one query, however many invoices it has.
"""

from __future__ import annotations

from typing import Any

from billing.api.serializers_invoices import money_text
from billing.models import Invoice


def _iso(value) -> str | None:
    return value.isoformat() if value is not None else None


def invoice_data(invoice: Invoice) -> dict[str, Any]:
    currency = invoice.currency
    return {
        "id": invoice.pk,
        "number": invoice.number,
        "partner": invoice.partner_id,
        "partner_external_id": invoice.partner.external_id or None,
        "month": f"{invoice.period.month:%Y-%m}",
        "status": invoice.status,
        "currency": currency,
        "subtotal": money_text(invoice.subtotal, currency),
        "discount": money_text(invoice.discount, currency),
        "tax": money_text(invoice.tax, currency),
        "total": money_text(invoice.total, currency),
        "issued_on": _iso(invoice.issued_on),
        "finalized_at": _iso(invoice.finalized_at),
        "paid_at": _iso(invoice.paid_at),
    }


def _invoices():
    return Invoice.objects.select_related("period", "partner")


def invoices_finalized(*, period_id: int) -> list[dict[str, Any]]:
    """`invoice.finalized`: every invoice the month's finalize issued, in number order."""
    invoices = _invoices().filter(period_id=period_id, number__isnull=False).order_by("number")
    return [invoice_data(invoice) for invoice in invoices]


def invoice_paid(*, invoice_id: int) -> list[dict[str, Any]]:
    return [invoice_data(invoice) for invoice in _invoices().filter(pk=invoice_id)]
