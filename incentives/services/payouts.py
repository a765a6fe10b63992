"""Payouts: paying what an approved statement made payable, exactly once.

**Invoice credit** (the default method): the payout job marks the payout `applied`; when the next
billing period is finalized, billing asks its credit providers for credits of each invoice
(`billing.closing.credits`) and `invoice_credits` answers with the partner's applied payouts of
that currency, oldest first, capped at what is left of the invoice's total. A payout that fits is
paid in that same transaction (`credited_invoice`, `payout.paid`); one that fits only partly is
paid for the part that fits (its amount becomes that part) and the rest goes back to the
partner's balance as a PAYOUT_REVERSAL entry on the next draft statement, to be paid with the next
statement. An invoice with nothing left to credit leaves the payout waiting for the next one.

**Stripe transfer**: a Stripe Connect transfer to the partner's connected account.
Exactly once comes from our own state machine, not from Stripe's idempotency keys (kept 24 hours,
and not honoured by test emulators):

1. lock the payout; `pending` → `sending`, attempts + 1, **commit** — before any call to Stripe;
2. a payout found `sending` may have reached Stripe already: list the transfers of its
   `transfer_group` (unique per payout and tenant) and adopt the one found; only when there is
   none, create one (same transfer group, metadata payout_id + tenant, idempotency key);
3. record it: `paid`, the transfer id, the statement paid, `payout.paid`.

Steps 2 and 3 run in one transaction holding the payout's row lock (taken with SKIP LOCKED), so a
second run started meanwhile (a redelivered task, the beat job) skips the payout rather than
looking for a transfer the first run is still creating; a crash releases the lock and leaves the
payout `sending` (committed in step 1).

A run interrupted anywhere after step 1 leaves the payout `sending`; the next run (the beat job
`resume_payouts`, or a retry) finds the transfer by its group instead of sending a second one.
A refusal from Stripe (bad account, insufficient balance …) marks the payout `failed` with the
message and posts a PAYOUT_REVERSAL of +amount so the balance returns to the partner; finance is
notified. Network errors leave it `sending` for the next run.
"""

from __future__ import annotations

import datetime
import logging
from decimal import Decimal

import stripe
from django.conf import settings
from django.core.mail import send_mail
from django.db import connection, transaction
from django.utils import timezone

from billing.closing.credits import InvoiceCreditRequest, ProvidedCredit
from core.actors import Actor
from core.events import publish
from core.money import ZERO, to_minor_units
from core.services.audit import audit_record, snapshot

from .. import stripe_connect
from ..errors import PayoutError
from ..models import (
    EntryKind,
    LedgerEntry,
    Payout,
    PayoutMethod,
    PayoutProfile,
    PayoutStatus,
    Statement,
    StatementStatus,
)
from .ledger import post_entries
from .statements import drafts_refresh, posting_month

__all__ = [
    "invoice_credits",
    "payout_execute",
    "payout_record_manual",
    "payouts_to_resume",
]

logger = logging.getLogger(__name__)
SYSTEM = Actor.system("payouts")


def _now() -> datetime.datetime:
    return timezone.now()


def _statement_paid(payout: Payout) -> None:
    Statement.objects.filter(pk=payout.statement_id, status=StatementStatus.APPROVED).update(
        status=StatementStatus.PAID, updated_at=_now()
    )


def _return_to_balance(payout: Payout, amount: Decimal, *, key: str, description: str) -> None:
    """A PAYOUT_REVERSAL of +amount on the partner's next draft statement."""
    post_entries(
        [
            LedgerEntry(
                partner_id=payout.partner_id,
                currency=payout.currency,
                kind=EntryKind.PAYOUT_REVERSAL,
                month=posting_month(
                    partner_id=payout.partner_id,
                    currency=payout.currency,
                    month=payout.statement.month,
                ),
                amount=amount,
                description=description[:300],
                source_key=key,
                payout=payout,
            )
        ]
    )
    drafts_refresh(partner_id=payout.partner_id, currency=payout.currency)


def _notify_finance_of_failure(payout: Payout) -> None:
    from accounts.models import User  # lower app; only its user table is read

    recipients = list(
        User.objects.filter(is_active=True, vendor_role__in=["finance", "admin"])
        .exclude(email="")
        .values_list("email", flat=True)
    )
    if not recipients:
        return
    subject = f"Commission payout {payout.pk} failed"
    body = (
        f"The payout of {payout.amount} {payout.currency} to partner {payout.partner_id} "
        f"failed: {payout.failure}\n\nThe amount is back on the partner's balance and will be "
        "paid with its next statement once the cause is fixed."
    )
    transaction.on_commit(lambda: send_mail(subject, body, None, recipients, fail_silently=True))


def _fail(payout: Payout, message: str, *, actor: Actor) -> None:
    """Payout locked by the caller: failed, its amount returned to the partner's balance."""
    before = snapshot(payout)
    payout.status = PayoutStatus.FAILED
    payout.failure = message[:500]
    payout.save(update_fields=["status", "failure"])
    _return_to_balance(
        payout,
        payout.amount,
        key=f"payout-reversal:{payout.pk}",
        description=f"Payout {payout.pk} failed: returned to the balance",
    )
    audit_record(
        actor=actor, action="payout.failed", instance=payout, before=before, after=snapshot(payout)
    )
    _notify_finance_of_failure(payout)


def _mark_paid(payout: Payout, *, actor: Actor, **changes) -> None:
    """Payout locked by the caller: paid (with `changes`), its statement paid, the event out."""
    before = snapshot(payout)
    for name, value in changes.items():
        setattr(payout, name, value)
    payout.status = PayoutStatus.PAID
    payout.paid_at = _now()
    payout.failure = ""
    payout.save()
    _statement_paid(payout)
    audit_record(
        actor=actor, action="payout.paid", instance=payout, before=before, after=snapshot(payout)
    )
    publish("payout.paid", payout_id=payout.pk)


# --- the job ------------------------------------------------------------------------------------


def _claim(payout_id: int) -> Payout | None:
    """Step 1: lock, move to SENDING (attempts + 1) and commit; None when nothing is to send."""
    with transaction.atomic():
        payout = Payout.objects.select_for_update().select_related("statement").get(pk=payout_id)
        if payout.status in (PayoutStatus.PAID, PayoutStatus.FAILED, PayoutStatus.APPLIED):
            return None
        if payout.method == PayoutMethod.INVOICE_CREDIT:
            before = snapshot(payout)
            payout.status = PayoutStatus.APPLIED
            payout.save(update_fields=["status"])
            audit_record(
                actor=SYSTEM,
                action="payout.applied",
                instance=payout,
                before=before,
                after=snapshot(payout),
            )
            return None
        if not stripe_connect.connect_configured():
            return None  # no Stripe keys: finance records the transfer by hand
        profile = PayoutProfile.objects.filter(partner_id=payout.partner_id).first()
        if profile is None or not profile.stripe_account_id:
            _fail(payout, "The partner has no Stripe connected account.", actor=SYSTEM)
            return None
        payout.status = PayoutStatus.SENDING
        payout.attempts += 1
        payout.save(update_fields=["status", "attempts"])
    return payout


def _send(payout: Payout) -> str:
    """Step 2: the transfer of this payout on Stripe (found again, or created); its id."""
    client = stripe_connect.connect_client()
    existing = stripe_connect.find_transfer(client, transfer_group=payout.transfer_group)
    if existing is not None:
        logger.info("payout %s: adopting transfer %s", payout.pk, existing["id"])
        return existing["id"]
    transfer = stripe_connect.create_transfer(
        client,
        amount_minor=to_minor_units(payout.amount, payout.currency),
        currency=payout.currency,
        destination=payout.destination,  # type: ignore[attr-defined]
        transfer_group=payout.transfer_group,
        metadata={"payout_id": str(payout.pk), "tenant": connection.schema_name},
        idempotency_key=payout.transfer_group,
    )
    return transfer["id"]


def _record(payout: Payout, transfer_id: str) -> None:
    """Step 3 (payout locked by the caller): paid, with the transfer id."""
    _mark_paid(payout, actor=SYSTEM, stripe_transfer_id=transfer_id)


def payout_execute(*, payout_id: int) -> Payout:
    """The payout job (idempotent; safe to re-run at any point, see the module docstring)."""
    if _claim(payout_id) is None:
        return Payout.objects.get(pk=payout_id)
    try:
        # Steps 2 and 3 under the row lock: a second run started meanwhile (a redelivery, the
        # beat job) skips the payout instead of looking for a transfer this run is still
        # creating. A crash releases the lock with the payout still SENDING (committed above).
        with transaction.atomic():
            payout = (
                Payout.objects.select_for_update(skip_locked=True)
                .select_related("statement")
                .filter(pk=payout_id, status=PayoutStatus.SENDING)
                .first()
            )
            if payout is None:
                return Payout.objects.get(pk=payout_id)
            profile = PayoutProfile.objects.filter(partner_id=payout.partner_id).first()
            payout.destination = profile.stripe_account_id if profile else ""  # type: ignore[attr-defined]
            _record(payout, _send(payout))
    except (stripe.InvalidRequestError, stripe.CardError, stripe.PermissionError) as exc:
        # Stripe refused it: nothing was sent. Fail it only while it is still ours to fail.
        with transaction.atomic():
            locked = (
                Payout.objects.select_for_update().select_related("statement").get(pk=payout_id)
            )
            if locked.status == PayoutStatus.SENDING:
                _fail(
                    locked, f"Stripe refused the transfer: {exc.user_message or exc}", actor=SYSTEM
                )
    return Payout.objects.get(pk=payout_id)


def payouts_to_resume(*, older_than: datetime.timedelta | None = None) -> list[int]:
    """Payouts the job should (re)run: pending ones, and sending ones whose run stopped half way
    (older than `older_than`, so a run still in flight is left alone)."""
    older_than = older_than or datetime.timedelta(minutes=settings.PAYOUT_RESUME_AFTER_MINUTES)
    cutoff = _now() - older_than
    return list(
        Payout.objects.filter(
            status__in=[PayoutStatus.PENDING, PayoutStatus.SENDING], created_at__lt=cutoff
        )
        .order_by("id")
        .values_list("id", flat=True)
    )


def payout_record_manual(*, payout_id: int, reference: str, actor: Actor) -> Payout:
    """Finance records a transfer made outside the app (no Stripe keys, or a stuck payout whose
    transfer finance has checked by hand)."""
    # Raw POST text: PostgreSQL text cannot hold NUL, so drop it rather than fail.
    reference = (reference or "").replace("\x00", "").strip()
    if not reference:
        raise PayoutError("Give the transfer's reference.", field="reference")
    with transaction.atomic():
        payout = Payout.objects.select_for_update().get(pk=payout_id)
        if payout.method != PayoutMethod.STRIPE_TRANSFER or payout.status not in (
            PayoutStatus.PENDING,
            PayoutStatus.SENDING,
        ):
            raise PayoutError(
                f"This payout is {payout.get_status_display().lower()}: it cannot be recorded "
                "as paid by hand."
            )
        _mark_paid(payout, actor=actor, stripe_transfer_id=reference[:100])
    return payout


# --- invoice credits (billing asks at finalize) ---------------------------------------------------


def invoice_credits(request: InvoiceCreditRequest) -> list[ProvidedCredit]:
    """Billing's credit provider: the partner's applied invoice-credit payouts of the invoice's
    currency, oldest first, within `request.available`; each is paid in the caller's
    (finalize's) transaction. See the module docstring for partial credits."""
    available = request.available
    credits: list[ProvidedCredit] = []
    if available <= ZERO:
        return credits
    payouts = (
        Payout.objects.select_for_update()
        .select_related("statement")
        .filter(
            partner_id=request.partner_id,
            currency=request.currency,
            method=PayoutMethod.INVOICE_CREDIT,
            status=PayoutStatus.APPLIED,
        )
        .order_by("created_at", "id")
    )
    for payout in payouts:
        if available <= ZERO:
            break
        applied = min(payout.amount, available)
        remainder = payout.amount - applied
        if remainder > ZERO:
            _return_to_balance(
                payout,
                remainder,
                key=f"payout-remainder:{payout.pk}",
                description=(
                    f"Payout {payout.pk}: the part that did not fit on invoice "
                    f"{request.number or request.invoice_id}"
                ),
            )
        _mark_paid(payout, actor=SYSTEM, amount=applied, credited_invoice_id=request.invoice_id)
        credits.append(
            ProvidedCredit(
                description=f"Commission payout — {payout.statement.month:%B %Y} statement",
                amount=applied,
                reference=f"payout:{payout.pk}",
            )
        )
        available -= applied
    return credits
