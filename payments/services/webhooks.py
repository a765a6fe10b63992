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

__all__ = ["HANDLED_TYPES", "MalformedEvent", "stripe_event_apply"]

WEBHOOK = Actor.system("stripe webhook")

HANDLED_TYPES = (
    "payment_intent.succeeded",
    "payment_intent.processing",
    "payment_intent.payment_failed",
    "charge.refunded",
)


class MalformedEvent(ValueError):
    """A signed event whose shape is not Stripe's (the view answers 400, nothing is written)."""


# Latest `created` we accept as a Unix time (year 9999); beyond it datetime cannot hold it.
_MAX_TIMESTAMP = 253_402_300_799


def _checked(event: Any) -> tuple[str, datetime.datetime | None]:
    """The event's id and creation time, once its shape is known to be Stripe's."""
    if not isinstance(event, dict):
        raise MalformedEvent("The event is not a JSON object.")
    event_id = event.get("id")
    if not isinstance(event_id, str) or not 0 < len(event_id) <= 255:
        raise MalformedEvent("The event has no id.")
    if not isinstance(event.get("type"), str):
        raise MalformedEvent("The event has no type.")
    created = event.get("created")
    if created is not None and (
        isinstance(created, bool)
        or not isinstance(created, int)
        or not 0 <= created <= _MAX_TIMESTAMP
    ):
        raise MalformedEvent("The event's creation time is not a Unix timestamp.")
    data = event.get("data")
    if not isinstance(data, dict) or not isinstance(data.get("object"), dict):
        raise MalformedEvent("The event has no data object.")
    obj = data["object"]
    for key in ("metadata", "last_payment_error"):
        if not isinstance(obj.get(key) or {}, dict):
            raise MalformedEvent(f"The event's object has a malformed {key}.")
    for key in ("id", "payment_intent"):
        if obj.get(key) is not None and not isinstance(obj[key], str):
            raise MalformedEvent(f"The event's object has a malformed {key}.")
    at = datetime.datetime.fromtimestamp(created, tz=datetime.UTC) if created else None
    return event_id, at


def stripe_event_apply(*, event: dict[str, Any]) -> str:
    """Apply a verified event once; returns what it did (also stored on the event row).
    Raises MalformedEvent, before writing anything, for an event not shaped like Stripe's."""
    event_id, created_at = _checked(event)
    with transaction.atomic():
        try:
            with transaction.atomic():
                row = StripeEvent.objects.create(
                    event_id=event_id,
                    type=str(event.get("type") or "")[:100],
                    stripe_created_at=created_at,
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
    invoice_id = str(metadata.get("invoice_id") or "")
    # Ids as we wrote them (decimal, within bigint); anything else is not our PaymentIntent.
    if (
        not (attempt.isdecimal() and invoice_id.isdecimal())
        or max(len(attempt), len(invoice_id)) > 18
    ):
        return None
    # The PaymentIntent of an attempt whose worker died before recording it.
    return Payment.objects.filter(
        pk=int(attempt), invoice_id=int(invoice_id), stripe_payment_intent_id=None
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
