"""Applying Stripe webhook events (after the view verified the signature and its timestamp).

Each event id is recorded once (`StripeEvent`, unique) in the same transaction that applies it:
a duplicate changes nothing, and an event whose application failed is rolled back with its row,
so Stripe's redelivery applies it then. Order does not matter because every change goes through
the forward-only transitions of `payment_settle` / `refund_settle` and billing's invoice payment
state (a failure reported after the success of the same or a later attempt changes nothing).

One Stripe account may serve several vendors, each with its own endpoint on its own host: an
event about an object of another vendor (`metadata.tenant`) or one we never created is recorded
and ignored.
"""

from __future__ import annotations

import datetime
from typing import Any

from django.db import IntegrityError, transaction

from core.actors import Actor

from .. import stripe_api
from ..enums import PaymentStatus, RefundStatus
from ..models import Payment, Refund, StripeEvent
from .charges import StripeOutcome, payment_settle
from .refunds import _find_refund, invoice_refund_if_complete, refund_settle

__all__ = ["HANDLED_TYPES", "stripe_event_apply"]

WEBHOOK = Actor.system("stripe webhook")

HANDLED_TYPES = (
    "payment_intent.succeeded",
    "payment_intent.processing",
    "payment_intent.payment_failed",
    "charge.refunded",
)


def stripe_event_apply(*, event: dict[str, Any]) -> str:
    """Apply a verified event once; returns what it did (also stored on the event row)."""
    event_id = str(event.get("id") or "")
    if not event_id:
        return "ignored: no id"
    created = event.get("created")
    with transaction.atomic():
        try:
            with transaction.atomic():
                row = StripeEvent.objects.create(
                    event_id=event_id,
                    type=str(event.get("type") or "")[:100],
                    stripe_created_at=(
                        datetime.datetime.fromtimestamp(int(created), tz=datetime.UTC)
                        if created
                        else None
                    ),
                )
        except IntegrityError:
            return "duplicate"
        outcome = _apply(event)
        row.outcome = outcome[:300]
        row.save(update_fields=["outcome"])
    return outcome


def _apply(event: dict[str, Any]) -> str:
    kind = event.get("type")
    obj = (event.get("data") or {}).get("object") or {}
    if kind not in HANDLED_TYPES:
        return f"ignored: {kind} is not handled"
    if kind.startswith("payment_intent."):
        return _payment_intent_event(kind, obj)
    return _charge_refunded(obj)


def _ours(metadata: dict[str, Any]) -> bool:
    return metadata.get("tenant") == stripe_api.tenant_schema()


def _payment_of_intent(obj: dict[str, Any]) -> Payment | None:
    intent_id = obj.get("id")
    payment = Payment.objects.filter(stripe_payment_intent_id=intent_id).first()
    if payment is not None:
        return payment
    metadata = obj.get("metadata") or {}
    attempt = str(metadata.get("attempt") or "")
    if not attempt.isdigit():
        return None
    # The PaymentIntent of an attempt whose worker died before recording it.
    return Payment.objects.filter(
        pk=int(attempt), invoice_id=metadata.get("invoice_id"), stripe_payment_intent_id=None
    ).first()


def _payment_intent_event(kind: str, obj: dict[str, Any]) -> str:
    metadata = obj.get("metadata") or {}
    if not _ours(metadata):
        return "ignored: not this vendor's"
    payment = _payment_of_intent(obj)
    if payment is None:
        return "ignored: unknown payment"
    if kind == "payment_intent.succeeded":
        outcome = StripeOutcome(status=PaymentStatus.SUCCEEDED, intent_id=obj["id"])
    elif kind == "payment_intent.processing":
        outcome = StripeOutcome(status=PaymentStatus.PROCESSING, intent_id=obj["id"])
    else:
        error = obj.get("last_payment_error") or {}
        outcome = StripeOutcome(
            status=PaymentStatus.FAILED,
            intent_id=obj["id"],
            failure_code=str(error.get("code") or "failed"),
            failure_message=str(error.get("message") or "The payment failed."),
        )
    changed = payment_settle(payment=payment, outcome=outcome, actor=WEBHOOK)
    verb = "applied" if changed else "no change"
    return f"{verb}: payment {payment.pk} {outcome.status}"


def _charge_refunded(obj: dict[str, Any]) -> str:
    intent_id = obj.get("payment_intent")
    payment = (
        Payment.objects.filter(stripe_payment_intent_id=intent_id).first() if intent_id else None
    )
    if payment is None:
        return "ignored: unknown charge"
    settled = 0
    for refund in Refund.objects.filter(
        payment=payment, status=RefundStatus.PENDING
    ).select_related("payment"):
        found = _find_refund(refund)
        if found is not None and refund_settle(refund=refund, stripe_refund=found, actor=WEBHOOK):
            settled += 1
    refunded = False
    if obj.get("refunded"):
        with transaction.atomic():
            refunded = invoice_refund_if_complete(invoice_id=payment.invoice_id, actor=WEBHOOK)
    return f"applied: {settled} refund(s) settled" + (", invoice refunded" if refunded else "")
