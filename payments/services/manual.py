"""Payments finance records by hand (bank transfers; the only way when Stripe is not configured).

Partial payments are allowed: each is a `Payment` row (kind manual, succeeded), at most the
invoice's outstanding amount (total less what was collected before); the invoice is paid when
they add up to its total. A manual payment is refused while a Stripe charge of the invoice is in
flight, so the same money is never collected twice.
"""

from __future__ import annotations

import datetime
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from billing.models import Invoice
from billing.models_invoicing import InvoiceStatus
from billing.services.invoice_payments import invoice_mark_paid
from core.actors import Actor
from core.money import ZERO, MoneyError, is_rounded, minor_units
from core.services.audit import audit_record, snapshot
from partners.evaluation import money

from ..enums import PaymentKind, PaymentStatus
from ..errors import PaymentError
from ..models import Payment
from .charges import invoice_outstanding

__all__ = ["MANUAL_PAYABLE", "payment_record_manual"]

# Money that arrives for an uncollectible invoice still pays it (billing allows that move).
MANUAL_PAYABLE = frozenset(
    {InvoiceStatus.OPEN, InvoiceStatus.PAYMENT_FAILED, InvoiceStatus.UNCOLLECTIBLE}
)


def payment_record_manual(
    *,
    invoice: Invoice,
    amount: Decimal,
    received_on: datetime.date,
    reference: str,
    actor: Actor,
) -> Payment:
    reference = (reference or "").strip()
    if not reference:
        raise PaymentError("Give the bank reference of the payment.", field="reference")
    if received_on > timezone.now().date() + datetime.timedelta(days=1):
        raise PaymentError("A payment cannot be received in the future.", field="received_on")
    with transaction.atomic():
        invoice = Invoice.objects.select_for_update().get(pk=invoice.pk)
        if invoice.status not in MANUAL_PAYABLE:
            raise PaymentError(
                f"Invoice {invoice.number or invoice.pk} is "
                f"{invoice.get_status_display().lower()}: no payment can be recorded on it.",
                field="invoice",
            )
        in_flight = Payment.objects.filter(
            invoice_id=invoice.pk,
            kind=PaymentKind.STRIPE,
            status__in=[PaymentStatus.PENDING, PaymentStatus.PROCESSING],
        ).exists()
        if in_flight:
            raise PaymentError(
                "A Stripe charge of this invoice is in progress: wait for its outcome.",
                field="invoice",
            )
        if not isinstance(amount, Decimal) or amount <= ZERO:
            raise PaymentError("The amount must be more than zero.", field="amount")
        try:
            rounded = is_rounded(amount, invoice.currency)
        except MoneyError:
            rounded = False
        if not rounded:
            raise PaymentError(
                f"Give the amount with at most {minor_units(invoice.currency)} decimal places.",
                field="amount",
            )
        outstanding = invoice_outstanding(invoice)
        if amount > outstanding:
            raise PaymentError(
                f"Only {money(outstanding, invoice.currency)} is outstanding on this invoice.",
                field="amount",
            )
        now = timezone.now()
        payment = Payment.objects.create(
            invoice=invoice,
            partner_id=invoice.partner_id,
            kind=PaymentKind.MANUAL,
            status=PaymentStatus.SUCCEEDED,
            amount=amount,
            currency=invoice.currency,
            reference=reference[:200],
            received_on=received_on,
            recorded_by_label=actor.label[:254],
            payment_method_label="Bank transfer",
            settled_at=now,
        )
        audit_record(
            actor=actor, action="payment.recorded", instance=payment, after=snapshot(payment)
        )
        if amount == outstanding:
            invoice_mark_paid(invoice_id=invoice.pk, actor=actor, paid_at=now, reference=reference)
    return payment
