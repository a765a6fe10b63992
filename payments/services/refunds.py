"""Refunds go through credit notes: a credit note on an invoice Stripe collected returns its total
to the partner through a Stripe Refund, exactly once.

The "credit_note.issued" handler (`refund_start_for_credit_note`) records a `Refund` row (one per
credit note, unique) in the credit note's transaction and dispatches `refund_execute` on commit.
The task follows the charge's pattern: count the call (committed), then under the row lock look
for an earlier run's refund by `metadata.refund` among the PaymentIntent's refunds before
creating one. When the invoice is credited in full and all it was charged has been refunded, the
invoice becomes refunded. Credit notes on invoices paid by bank transfer are refunded by finance
outside the platform (no Refund row).
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from billing.models import CreditNote, Invoice
from billing.models_invoicing import InvoiceStatus
from billing.services.invoice_payments import invoice_mark_refunded
from core.actors import Actor
from core.money import ZERO
from core.services.audit import audit_record, snapshot

from .. import stripe_api
from ..enums import PaymentKind, PaymentStatus, RefundStatus
from ..models import Payment, Refund
from .charges import SYSTEM

__all__ = [
    "invoice_refund_if_complete",
    "refund_execute",
    "refund_settle",
    "refund_start_for_credit_note",
]


def refund_start_for_credit_note(*, credit_note_id: int) -> Refund | None:
    note = CreditNote.objects.select_related("invoice").get(pk=credit_note_id)
    if Refund.objects.filter(credit_note_id=note.pk).exists():
        return None
    payment = (
        Payment.objects.filter(
            invoice_id=note.invoice_id,
            kind=PaymentKind.STRIPE,
            status=PaymentStatus.SUCCEEDED,
            stripe_payment_intent_id__isnull=False,
        )
        .order_by("-settled_at", "-id")
        .first()
    )
    if payment is None:
        return None
    refunded = (
        Refund.objects.filter(payment=payment)
        .exclude(status=RefundStatus.FAILED)
        .aggregate(s=Sum("amount"))["s"]
        or ZERO
    )
    amount = min(note.total, payment.amount - refunded)
    if amount <= ZERO:
        return None
    refund = Refund.objects.create(
        credit_note=note,
        payment=payment,
        invoice_id=note.invoice_id,
        partner_id=payment.partner_id,
        amount=amount,
        currency=note.currency,
    )
    audit_record(actor=SYSTEM, action="refund.created", instance=refund, after=snapshot(refund))

    def send() -> None:
        from ..tasks import execute_refund

        execute_refund.delay(refund.pk)

    transaction.on_commit(send)
    return refund


def _find_refund(refund: Refund) -> Any | None:
    tenant = stripe_api.tenant_schema()
    for found in stripe_api.refunds_of_payment_intent(refund.payment.stripe_payment_intent_id):
        metadata = found.get("metadata") or {}
        if metadata.get("refund") == str(refund.pk) and metadata.get("tenant") == tenant:
            return found
    return None


def refund_execute(*, refund_id: int) -> str:
    with transaction.atomic():
        refund = Refund.objects.select_for_update().get(pk=refund_id)
        if refund.status != RefundStatus.PENDING:
            return "nothing to do"
        refund.stripe_calls += 1
        refund.save(update_fields=["stripe_calls", "updated_at"])
    with transaction.atomic():
        refund = Refund.objects.select_for_update().select_related("payment").get(pk=refund_id)
        if refund.status != RefundStatus.PENDING:
            return f"already {refund.status}"
        found = _find_refund(refund) if refund.stripe_calls > 1 else None
        if found is None:
            try:
                found = stripe_api.refund_create(
                    params={
                        "payment_intent": refund.payment.stripe_payment_intent_id,
                        "amount": stripe_api.minor(refund.amount, refund.currency),
                        "metadata": {
                            "tenant": stripe_api.tenant_schema(),
                            "refund": str(refund.pk),
                            "credit_note_id": str(refund.credit_note_id),
                            "invoice_id": str(refund.invoice_id),
                        },
                    },
                    idempotency_key=f"{stripe_api.tenant_schema()}-refund-{refund.pk}",
                )
            except stripe_api.CardError as exc:  # pragma: no cover - Stripe refuses rarely
                refund_settle(
                    refund=refund, stripe_refund=None, failure=str(exc.user_message), actor=SYSTEM
                )
                return RefundStatus.FAILED
        refund_settle(refund=refund, stripe_refund=found, actor=SYSTEM)
        return str(Refund.objects.get(pk=refund_id).status)


def refund_settle(
    *, refund: Refund, stripe_refund: Any | None, actor: Actor, failure: str = ""
) -> bool:
    """Record Stripe's answer on the refund (forward only) and refund the invoice when done."""
    with transaction.atomic():
        refund = Refund.objects.select_for_update().get(pk=refund.pk)
        if refund.status != RefundStatus.PENDING:
            return False
        status = (stripe_refund or {}).get("status") if stripe_refund is not None else "failed"
        if status in ("pending", "requires_action"):
            if stripe_refund is not None and not refund.stripe_refund_id:
                refund.stripe_refund_id = stripe_refund["id"]
                refund.save(update_fields=["stripe_refund_id", "updated_at"])
            return False
        before = snapshot(refund)
        if stripe_refund is not None:
            refund.stripe_refund_id = stripe_refund["id"]
        refund.status = RefundStatus.SUCCEEDED if status == "succeeded" else RefundStatus.FAILED
        refund.failure_message = failure[:500] if refund.status == RefundStatus.FAILED else ""
        refund.settled_at = timezone.now()
        refund.save()
        audit_record(
            actor=actor,
            action=f"refund.{refund.status}",
            instance=refund,
            before=before,
            after=snapshot(refund),
        )
        if refund.status == RefundStatus.SUCCEEDED:
            invoice_refund_if_complete(invoice_id=refund.invoice_id, actor=actor)
    return True


def invoice_refund_if_complete(*, invoice_id: int, actor: Actor) -> bool:
    """Refunded: credited in full, and every euro collected through Stripe given back."""
    invoice = Invoice.objects.select_for_update().get(pk=invoice_id)
    if invoice.status != InvoiceStatus.PAID:
        return False
    credited = CreditNote.objects.filter(invoice_id=invoice_id).aggregate(s=Sum("total"))["s"]
    if (credited or ZERO) < invoice.total:
        return False
    collected = (
        Payment.objects.filter(invoice_id=invoice_id, status=PaymentStatus.SUCCEEDED).aggregate(
            s=Sum("amount")
        )["s"]
        or ZERO
    )
    refunded = (
        Refund.objects.filter(invoice_id=invoice_id, status=RefundStatus.SUCCEEDED).aggregate(
            s=Sum("amount")
        )["s"]
        or ZERO
    )
    if refunded < collected:
        return False
    return invoice_mark_refunded(invoice_id=invoice_id, actor=actor)
