"""Charging invoices through Stripe, exactly once.

When a month is finalized (`payments_start_for_period`, run by the "billing_period.finalized"
handler inside the finalize transaction), each open invoice is:
- marked paid at once when its total is zero;
- given attempt 1 (a `Payment` row, committed with the finalize) when its partner has a saved
  method and Stripe is configured, and charged by a Celery task dispatched on commit;
- otherwise left open for a payment finance records by hand (bank transfer).

`payment_charge` (the task) makes exactly one off-session PaymentIntent per attempt:
1. in its own committed transaction it counts the call it is about to make (`stripe_calls`);
2. in a second transaction it locks the attempt (a concurrent run of the same attempt waits on
   that lock until this one has recorded), and — when an earlier run may have reached Stripe
   (`stripe_calls` > 1) — first looks for that run's PaymentIntent among the customer's,
   by `metadata.attempt`; only when there is none does it create one. It then records the
   outcome (`payment_settle`) in the same transaction.
A worker killed between Stripe accepting the charge and the commit leaves the attempt pending with
its call counted; the re-run finds the PaymentIntent instead of charging again. We do not rely on
Stripe's idempotency keys (we send one, derived from the attempt) — localstripe ignores them and
Stripe forgets them after 24 hours.

`payment_settle` is the one place an attempt's outcome moves the invoice (the task and the
webhooks both call it): an attempt only moves forward (pending → processing → succeeded/failed),
so a late or repeated report changes nothing; a failure moves the invoice to payment failed (or,
after the last dunning retry, uncollectible) and emails the partner's billing users.
"""

from __future__ import annotations

import datetime
import logging
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from billing.models import BillingPeriod, CreditNote, Invoice
from billing.models_invoicing import InvoiceStatus
from billing.services.invoice_payments import (
    invoice_mark_paid,
    invoice_mark_payment_failed,
    invoice_mark_uncollectible,
)
from core.actors import Actor
from core.money import ZERO
from core.services.audit import audit_record, snapshot

from .. import stripe_api
from ..enums import FINAL_PAYMENT_STATUSES, PaymentKind, PaymentStatus, RefundStatus
from ..models import Payment, PaymentProfile, Refund

__all__ = [
    "COLLECTIBLE",
    "StripeOutcome",
    "dispatch_charges",
    "invoice_outstanding",
    "invoice_settle_by_credit",
    "max_attempts",
    "payment_charge",
    "payment_settle",
    "payments_resume",
    "payments_start_for_period",
    "payments_to_resume",
]

logger = logging.getLogger(__name__)

SYSTEM = Actor.system("payments")
# Invoice states in which money may still be collected.
COLLECTIBLE = frozenset({InvoiceStatus.OPEN, InvoiceStatus.PAYMENT_FAILED})


def max_attempts() -> int:
    """The charge at finalize plus one retry per dunning day."""
    return 1 + len(settings.PAYMENT_DUNNING_DAYS)


def invoice_outstanding(invoice: Invoice) -> Decimal:
    """What is still to collect: the total, less what credit notes took off it, less what was
    collected and kept (payments that succeeded minus refunds that did). Negative when more
    was collected than is now owed (a refund still on its way)."""
    paid = Payment.objects.filter(invoice_id=invoice.pk, status=PaymentStatus.SUCCEEDED).aggregate(
        s=Sum("amount")
    )["s"]
    refunded = Refund.objects.filter(
        invoice_id=invoice.pk, status=RefundStatus.SUCCEEDED
    ).aggregate(s=Sum("amount"))["s"]
    credited = CreditNote.objects.filter(invoice_id=invoice.pk).aggregate(s=Sum("total"))["s"]
    return invoice.total - (credited or ZERO) - ((paid or ZERO) - (refunded or ZERO))


# --- starting collection at finalize ---------------------------------------------------------


def invoice_settle_by_credit(*, credit_note_id: int) -> bool:
    """After a credit note on an invoice not yet paid: when credits leave nothing to collect,
    the invoice is settled (paid, by the credit note) and dunning stops. Runs in the credit
    note's transaction; a charge still in flight settles it instead when it lands."""
    note = CreditNote.objects.get(pk=credit_note_id)
    invoice = Invoice.objects.select_for_update().get(pk=note.invoice_id)
    if invoice.status not in COLLECTIBLE or invoice_outstanding(invoice) > ZERO:
        return False
    in_flight = Payment.objects.filter(
        invoice_id=invoice.pk, status__in=[PaymentStatus.PENDING, PaymentStatus.PROCESSING]
    ).exists()
    if in_flight:
        return False
    return invoice_mark_paid(
        invoice_id=invoice.pk, actor=SYSTEM, reference=f"Settled by credit note {note.number}"
    )


def payments_start_for_period(*, period_id: int) -> list[int]:
    """Mark zero invoices paid and record attempt 1 for the others of partners with a saved
    method; return the attempt ids (their charge tasks run after commit). Runs inside the
    finalize transaction; a second call finds the attempts already there."""
    period = BillingPeriod.objects.get(pk=period_id)
    invoices = list(
        Invoice.objects.filter(period_id=period_id, status=InvoiceStatus.OPEN).order_by("pk")
    )
    profiles = {
        p.partner_id: p
        for p in PaymentProfile.objects.filter(partner_id__in={i.partner_id for i in invoices})
    }
    existing = set(
        Payment.objects.filter(invoice__in=invoices, attempt=1).values_list("invoice_id", flat=True)
    )
    stripe_on = stripe_api.configured()
    created: list[Payment] = []
    zero = manual = 0
    for invoice in invoices:
        if invoice.total <= ZERO:
            invoice_mark_paid(invoice_id=invoice.pk, actor=SYSTEM, reference="Nothing to pay")
            zero += 1
            continue
        profile = profiles.get(invoice.partner_id)
        if not stripe_on or profile is None or not profile.charges_automatically:
            manual += 1
            continue
        if invoice.pk in existing:
            continue
        created.append(
            Payment(
                invoice=invoice,
                partner_id=invoice.partner_id,
                kind=PaymentKind.STRIPE,
                attempt=1,
                amount=invoice.total,
                currency=invoice.currency,
                payment_method_label=profile.method_label,
            )
        )
    Payment.objects.bulk_create(created)
    ids = [p.pk for p in created]
    audit_record(
        actor=SYSTEM,
        action="payments.collection_started",
        instance=period,
        after={"charges": len(ids), "paid_as_zero": zero, "awaiting_bank_transfer": manual},
    )
    dispatch_charges(ids)
    return ids


def payments_to_resume(*, now: datetime.datetime | None = None) -> list[int]:
    """Stripe attempts still pending PAYMENT_RESUME_AFTER_MINUTES after they last moved: their
    task was lost (a broker restart) or gave up retrying while Stripe was unreachable. The beat
    job charges them again; exactly once still holds (the re-run looks for the PaymentIntent an
    earlier run may have created before creating one)."""
    now = now or timezone.now()
    stale = now - datetime.timedelta(minutes=settings.PAYMENT_RESUME_AFTER_MINUTES)
    return list(
        Payment.objects.filter(
            kind=PaymentKind.STRIPE, status=PaymentStatus.PENDING, updated_at__lt=stale
        )
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def payments_resume(*, now: datetime.datetime | None = None) -> list[int]:
    """Beat (per vendor): dispatch the charge task again for `payments_to_resume`."""
    ids = payments_to_resume(now=now)
    if ids:
        logger.warning("payments: resuming %d stale pending charge(s): %s", len(ids), ids)
    with transaction.atomic():
        dispatch_charges(ids)
    return ids


def dispatch_charges(payment_ids: list[int]) -> None:
    if not payment_ids:
        return

    def send() -> None:
        from ..tasks import charge_payment

        for payment_id in payment_ids:
            charge_payment.delay(payment_id)

    transaction.on_commit(send)


# --- the charge ------------------------------------------------------------------------------


class StripeOutcome:
    """What Stripe said about a PaymentIntent, reduced to what we record."""

    def __init__(
        self,
        *,
        status: str,
        intent_id: str | None,
        failure_code: str = "",
        failure_message: str = "",
    ) -> None:
        self.status = status
        self.intent_id = intent_id
        self.failure_code = failure_code
        self.failure_message = failure_message

    @classmethod
    def of_intent(cls, intent: Any) -> StripeOutcome:
        status = intent.get("status")
        error = intent.get("last_payment_error") or {}
        if status == "succeeded":
            return cls(status=PaymentStatus.SUCCEEDED, intent_id=intent["id"])
        if status in ("processing", "requires_capture"):
            return cls(status=PaymentStatus.PROCESSING, intent_id=intent["id"])
        if status == "requires_action":
            # Off-session, nobody is there to authenticate: a failure the partner must fix.
            return cls(
                status=PaymentStatus.FAILED,
                intent_id=intent["id"],
                failure_code="authentication_required",
                failure_message="The bank asked for authentication.",
            )
        return cls(
            status=PaymentStatus.FAILED,
            intent_id=intent["id"],
            failure_code=str(error.get("code") or status or "failed"),
            failure_message=str(error.get("message") or "The payment failed."),
        )


def _intent_params(payment: Payment, profile: PaymentProfile) -> dict[str, Any]:
    return {
        "amount": stripe_api.minor(payment.amount, payment.currency),
        "currency": payment.currency.lower(),
        "customer": profile.stripe_customer_id,
        "payment_method": profile.payment_method_id,
        "payment_method_types": [profile.payment_method_kind],
        "confirm": True,
        "off_session": True,
        "metadata": {
            "tenant": stripe_api.tenant_schema(),
            "invoice_id": str(payment.invoice_id),
            "attempt": str(payment.pk),
            "attempt_number": str(payment.attempt),
        },
    }


def idempotency_key(payment: Payment) -> str:
    return f"{stripe_api.tenant_schema()}-payment-{payment.pk}"


def _find_intent(customer_id: str, payment: Payment) -> Any | None:
    tenant = stripe_api.tenant_schema()
    for intent in stripe_api.payment_intents_of_customer(customer_id):
        metadata = intent.get("metadata") or {}
        if metadata.get("attempt") == str(payment.pk) and metadata.get("tenant") == tenant:
            return intent
    return None


def _claim_call(payment_id: int) -> Payment | None:
    """Count the call about to be made (committed on return); None: nothing to do."""
    with transaction.atomic():
        payment = Payment.objects.select_for_update().get(pk=payment_id)
        if payment.status != PaymentStatus.PENDING or payment.kind != PaymentKind.STRIPE:
            return None
        payment.stripe_calls += 1
        payment.save(update_fields=["stripe_calls", "updated_at"])
        return payment


def payment_charge(*, payment_id: int) -> str:
    """Charge one attempt (the task body); safe to run any number of times, also at once."""
    if _claim_call(payment_id) is None:
        return "nothing to do"
    with transaction.atomic():
        payment = Payment.objects.select_for_update().get(pk=payment_id)
        if payment.status != PaymentStatus.PENDING:
            return f"already {payment.status}"
        invoice = Invoice.objects.get(pk=payment.invoice_id)
        profile = PaymentProfile.objects.filter(partner_id=payment.partner_id).first()
        if invoice.status not in COLLECTIBLE:
            _cancel(payment, f"Invoice is {invoice.get_status_display().lower()}.")
            return "canceled: invoice settled"
        if profile is None or not profile.charges_automatically or not stripe_api.configured():
            _cancel(payment, "No saved payment method.")
            return "canceled: no payment method"
        intent = None
        if payment.stripe_calls > 1:
            intent = _find_intent(profile.stripe_customer_id, payment)
        if intent is not None:
            outcome = StripeOutcome.of_intent(intent)
        else:
            try:
                intent = stripe_api.payment_intent_create(
                    params=_intent_params(payment, profile),
                    idempotency_key=idempotency_key(payment),
                )
                outcome = StripeOutcome.of_intent(intent)
            except stripe_api.CardError as exc:
                outcome = _declined(exc, profile, payment)
            except stripe_api.RefusedError as exc:
                # Refused outright (nothing charged): a failed attempt, so dunning takes over
                # instead of the attempt waiting forever. Transient errors propagate: the task
                # retries, and the re-run looks for the PaymentIntent before creating one.
                outcome = StripeOutcome(
                    status=PaymentStatus.FAILED,
                    intent_id=None,
                    failure_code=str(getattr(exc, "code", "") or "stripe_refused")[:64],
                    failure_message=str(getattr(exc, "user_message", "") or exc)[:500],
                )
        record_outcome(payment, outcome)
        return outcome.status


def _declined(exc: Any, profile: PaymentProfile, payment: Payment) -> StripeOutcome:
    error = exc.error.to_dict() if getattr(exc, "error", None) is not None else {}
    intent = error.get("payment_intent") or {}
    intent_id = intent.get("id")
    if intent_id is None:
        # localstripe does not put the PaymentIntent in the error: find it by our metadata.
        found = _find_intent(profile.stripe_customer_id, payment)
        intent_id = found["id"] if found else None
    return StripeOutcome(
        status=PaymentStatus.FAILED,
        intent_id=intent_id,
        failure_code=str(getattr(exc, "code", "") or "card_declined"),
        failure_message=str(getattr(exc, "user_message", "") or "The card was declined."),
    )


def record_outcome(payment: Payment, outcome: StripeOutcome) -> None:
    """Write what Stripe answered (a seam the exactly-once tests break on purpose)."""
    payment_settle(payment=payment, outcome=outcome, actor=SYSTEM)


def _cancel(payment: Payment, reason: str) -> None:
    before = snapshot(payment)
    payment.status = PaymentStatus.CANCELED
    payment.failure_message = reason
    payment.settled_at = timezone.now()
    payment.save(update_fields=["status", "failure_message", "settled_at", "updated_at"])
    audit_record(
        actor=SYSTEM,
        action="payment.canceled",
        instance=payment,
        before=before,
        after=snapshot(payment),
    )


def payment_settle(
    *,
    payment: Payment,
    outcome: StripeOutcome,
    actor: Actor,
    at: datetime.datetime | None = None,
) -> bool:
    """Apply a Stripe outcome to a locked attempt and its invoice; False when it changes
    nothing (the attempt already reached that state or a final one)."""
    at = at or timezone.now()
    with transaction.atomic():
        payment = Payment.objects.select_for_update().get(pk=payment.pk)
        if payment.status in FINAL_PAYMENT_STATUSES or payment.status == outcome.status:
            if outcome.intent_id and not payment.stripe_payment_intent_id:
                payment.stripe_payment_intent_id = outcome.intent_id
                payment.save(update_fields=["stripe_payment_intent_id", "updated_at"])
            return False
        before = snapshot(payment)
        payment.status = outcome.status
        if outcome.intent_id:
            payment.stripe_payment_intent_id = outcome.intent_id
        if outcome.status == PaymentStatus.FAILED:
            payment.failure_code = outcome.failure_code[:64]
            payment.failure_message = outcome.failure_message[:500]
        if outcome.status in FINAL_PAYMENT_STATUSES:
            payment.settled_at = at
        payment.save()
        audit_record(
            actor=actor,
            action=f"payment.{outcome.status}",
            instance=payment,
            before=before,
            after=snapshot(payment),
        )
        invoice = Invoice.objects.select_for_update().get(pk=payment.invoice_id)
        reference = payment.stripe_payment_intent_id or ""
        if outcome.status == PaymentStatus.SUCCEEDED:
            if invoice.status in (*COLLECTIBLE, InvoiceStatus.UNCOLLECTIBLE) and (
                invoice_outstanding(invoice) <= ZERO
            ):
                invoice_mark_paid(
                    invoice_id=invoice.pk, actor=actor, paid_at=at, reference=reference
                )
        elif outcome.status == PaymentStatus.FAILED:
            moved = invoice_mark_payment_failed(
                invoice_id=invoice.pk, actor=actor, reference=reference, at=at
            )
            if moved:
                from .notifications import notify_payment_failed

                last = (payment.attempt or 0) >= max_attempts()
                if last:
                    invoice_mark_uncollectible(invoice_id=invoice.pk, actor=actor, at=at)
                notify_payment_failed(payment_id=payment.pk, final=last)
    return True
