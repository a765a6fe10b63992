"""An invoice's payment state after finalize: open → paid / payment_failed → … (one place).

```
open ──► paid ──► refunded (credited and refunded in full)
  │        ▲
  ▼        │
payment_failed ──► uncollectible ──► paid (money arrived after all)
```

Whoever learns about money (the Stripe charge task, a Stripe webhook, finance recording a bank
transfer) calls these; each locks the invoice, is idempotent (asking for the state it is already in
changes nothing and returns False), writes one audit row and publishes the matching domain event
(`core.events`) in the same transaction, so commission accrual, clawbacks and outbound webhooks
see exactly the transitions that happened. A transition the diagram does not allow raises
`InvoicePaymentStateError`; a late failure for a paid invoice is ignored (False), because Stripe
may deliver `payment_intent.payment_failed` after `payment_intent.succeeded` of a retry.
"""

from __future__ import annotations

import datetime

from django.db import transaction
from django.utils import timezone

from core.actors import Actor
from core.events import publish
from core.services.audit import audit_record, snapshot

from ..errors import BillingError
from ..models_invoicing import Invoice, InvoiceStatus

__all__ = [
    "InvoicePaymentStateError",
    "invoice_mark_paid",
    "invoice_mark_payment_failed",
    "invoice_mark_refunded",
    "invoice_mark_uncollectible",
]

S = InvoiceStatus


class InvoicePaymentStateError(BillingError):
    """The invoice's payment state does not allow this transition."""


# target → states it may be reached from
_ALLOWED: dict[str, frozenset[str]] = {
    S.PAID: frozenset({S.OPEN, S.PAYMENT_FAILED, S.UNCOLLECTIBLE}),
    S.PAYMENT_FAILED: frozenset({S.OPEN, S.PAYMENT_FAILED}),
    S.UNCOLLECTIBLE: frozenset({S.OPEN, S.PAYMENT_FAILED}),
    S.REFUNDED: frozenset({S.PAID}),
}
_EVENT = {
    S.PAID: "invoice.paid",
    S.PAYMENT_FAILED: "invoice.payment_failed",
    S.UNCOLLECTIBLE: "invoice.uncollectible",
    S.REFUNDED: "invoice.refunded",
}
# Reports that may arrive after the invoice moved on and then mean nothing.
_STALE = {
    S.PAYMENT_FAILED: frozenset({S.PAID, S.REFUNDED, S.UNCOLLECTIBLE}),
}


def _move(
    invoice_id: int,
    target: str,
    *,
    actor: Actor,
    at: datetime.datetime | None,
    reference: str = "",
) -> bool:
    at = at or timezone.now()
    with transaction.atomic():
        invoice = Invoice.objects.select_for_update().get(pk=invoice_id)
        if invoice.status == target and target != S.PAYMENT_FAILED:
            return False
        if invoice.status in _STALE.get(target, ()):
            return False
        if invoice.status not in _ALLOWED[target]:
            raise InvoicePaymentStateError(
                f"Invoice {invoice.number or invoice.pk} is "
                f"{invoice.get_status_display().lower()}: it cannot become "
                f"{S(target).label.lower()}.",
                field="status",
            )
        before = snapshot(invoice)
        previous = invoice.status
        invoice.status = target
        fields = ["status", "updated_at"]
        if target == S.PAID:
            invoice.paid_at = at
            fields.append("paid_at")
        elif target == S.UNCOLLECTIBLE:
            invoice.uncollectible_at = at
            fields.append("uncollectible_at")
        if reference:
            invoice.payment_reference = reference[:200]
            fields.append("payment_reference")
        invoice.save(update_fields=fields)
        audit_record(
            actor=actor,
            action=_EVENT[target],
            instance=invoice,
            before=before,
            after=snapshot(invoice),
        )
        # A repeated failure (a dunning retry that failed again) is news for the partner but
        # not a state change: publish it, handlers count attempts themselves.
        if previous != target or target == S.PAYMENT_FAILED:
            publish(_EVENT[target], invoice_id=invoice.pk)
    return True


def invoice_mark_paid(
    *,
    invoice_id: int,
    actor: Actor,
    paid_at: datetime.datetime | None = None,
    reference: str = "",
) -> bool:
    """The invoice's total has been collected (Stripe charge, or a bank transfer finance saw)."""
    return _move(invoice_id, S.PAID, actor=actor, at=paid_at, reference=reference)


def invoice_mark_payment_failed(
    *, invoice_id: int, actor: Actor, reference: str = "", at: datetime.datetime | None = None
) -> bool:
    """A charge attempt failed; False when the invoice was paid (or given up on) meanwhile."""
    return _move(invoice_id, S.PAYMENT_FAILED, actor=actor, at=at, reference=reference)


def invoice_mark_uncollectible(
    *, invoice_id: int, actor: Actor, at: datetime.datetime | None = None
) -> bool:
    """Dunning gave up (or finance wrote it off)."""
    return _move(invoice_id, S.UNCOLLECTIBLE, actor=actor, at=at)


def invoice_mark_refunded(
    *, invoice_id: int, actor: Actor, at: datetime.datetime | None = None, reference: str = ""
) -> bool:
    """A paid invoice was credited and its money returned in full."""
    return _move(invoice_id, S.REFUNDED, actor=actor, at=at, reference=reference)
