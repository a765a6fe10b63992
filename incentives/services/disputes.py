"""Disputes: a partner questions one entry of its statement; finance resolves it.

Opening a dispute holds the entry's amount (a positive one; disputing a clawback holds nothing —
the clawback stands until resolved) out of what is paid: while the statement is a draft, its
`payable` drops by exactly that amount at approval; on an approved statement whose payout has
not been sent yet (pending, or an invoice credit waiting for the next invoice), the payout shrinks
by the held amount (a PAYOUT_REVERSAL entry gives it back to the balance, on the next draft,
where the open dispute keeps holding it) — a payout the hold would take to zero is withheld
entirely (failed, reversed). The held amount stays in the balance that is carried forward.

Finance resolves it in the console: **reject** — the entry stands and the held amount is
released into the next payout; **uphold** with a corrected amount — an ADJUSTMENT entry of
corrected − original is posted (on the draft statement, or the next one once it is approved).
"""

from __future__ import annotations

from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from billing.models_invoicing import AMOUNT_DIGITS
from core.actors import Actor
from core.money import ZERO, round_money
from core.services.audit import audit_record, snapshot

from ..errors import DisputeError
from ..models import (
    DisputeStatus,
    EntryKind,
    LedgerEntry,
    Payout,
    PayoutStatus,
    Statement,
    StatementDispute,
    StatementStatus,
)
from .ledger import post_entries
from .statements import drafts_refresh, posting_month

# The largest amount an amount column holds (18 digits, 4 of them decimals).
MAX_AMOUNT = Decimal(10) ** (AMOUNT_DIGITS["max_digits"] - AMOUNT_DIGITS["decimal_places"])

__all__ = ["DISPUTABLE_KINDS", "dispute_open", "dispute_resolve"]

DISPUTABLE_KINDS = frozenset(
    {
        EntryKind.ACCRUAL,
        EntryKind.GROWTH_BONUS,
        EntryKind.NEW_CLIENT_BONUS,
        EntryKind.CLAWBACK,
        EntryKind.ADJUSTMENT,
    }
)


def _withhold_from_payout(
    payout: Payout, amount: Decimal, *, dispute: StatementDispute, actor: Actor
) -> None:
    """Take `amount` (≤ payout.amount) out of a payout not yet sent; the entry that gives it
    back goes to the partner's next draft statement."""
    before = snapshot(payout)
    if amount >= payout.amount:
        payout.status = PayoutStatus.FAILED
        payout.failure = "Withheld: an open dispute holds the whole amount."
        amount = payout.amount
    else:
        payout.amount -= amount
    payout.save(update_fields=["status", "failure", "amount"])
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
                description=f"Held from payout {payout.pk} by dispute {dispute.pk}",
                source_key=f"dispute-hold:{dispute.pk}",
                payout=payout,
            )
        ]
    )
    audit_record(
        actor=actor,
        action="payout.withheld",
        instance=payout,
        before=before,
        after=snapshot(payout),
    )


def _text(value: str | None) -> str:
    # Pages pass raw POST text: PostgreSQL text cannot hold NUL, so drop it rather than fail.
    return (value or "").replace("\x00", "").strip()


def _correction_text(entry: LedgerEntry, dispute: StatementDispute) -> str:
    return f"Correction of “{entry.description}” (dispute {dispute.pk})"[:300]


def dispute_open(
    *, statement_id: int, entry_id: int, partner_id: int, reason: str, actor: Actor
) -> StatementDispute:
    """The partner `partner_id` disputes entry `entry_id` of its statement `statement_id`.

    Raises Statement.DoesNotExist / LedgerEntry.DoesNotExist for another partner's statement or
    an entry not on it (callers answer 404), DisputeError when it cannot be disputed."""
    reason = _text(reason)
    if not reason:
        raise DisputeError("Say why you dispute this line.", field="reason")
    with transaction.atomic():
        statement = Statement.objects.select_for_update().get(
            pk=statement_id, partner_id=partner_id
        )
        entry = LedgerEntry.objects.get(pk=entry_id, statement=statement)
        if statement.status == StatementStatus.PAID:
            raise DisputeError("This statement is paid: it can no longer be disputed.")
        payout = (
            Payout.objects.select_for_update().filter(statement=statement).first()
            if statement.status == StatementStatus.APPROVED
            else None
        )
        if payout is not None and payout.status in (PayoutStatus.SENDING, PayoutStatus.PAID):
            raise DisputeError("This statement's payout is being paid: it can't be disputed now.")
        if entry.kind not in DISPUTABLE_KINDS:
            raise DisputeError(f"A {entry.get_kind_display().lower()} line cannot be disputed.")
        if StatementDispute.objects.filter(entry=entry, status=DisputeStatus.OPEN).exists():
            raise DisputeError("This line is already disputed.")
        dispute = StatementDispute.objects.create(
            statement=statement,
            entry=entry,
            reason=reason[:1000],
            held_amount=max(entry.amount, ZERO),
            opened_by_label=actor.label[:254],
        )
        if (
            payout is not None
            and payout.status in (PayoutStatus.PENDING, PayoutStatus.APPLIED)
            and dispute.held_amount > ZERO
        ):
            _withhold_from_payout(
                payout, min(dispute.held_amount, payout.amount), dispute=dispute, actor=actor
            )
        drafts_refresh(partner_id=statement.partner_id, currency=statement.currency)
        audit_record(
            actor=actor,
            action="statement_dispute.opened",
            instance=dispute,
            after=snapshot(dispute),
        )
    return dispute


def dispute_resolve(
    *,
    dispute_id: int,
    uphold: bool,
    actor: Actor,
    corrected_amount: Decimal | None = None,
    resolution: str = "",
) -> StatementDispute:
    """Finance rejects (`uphold=False`: the entry stands, the hold is released) or upholds it
    with `corrected_amount` (an ADJUSTMENT entry of corrected − original is posted)."""
    with transaction.atomic():
        dispute = (
            StatementDispute.objects.select_for_update()
            .select_related("statement", "entry")
            .get(pk=dispute_id)
        )
        if dispute.status != DisputeStatus.OPEN:
            raise DisputeError(f"This dispute is already {dispute.get_status_display().lower()}.")
        before = snapshot(dispute)
        entry = dispute.entry
        if uphold:
            if corrected_amount is None:
                raise DisputeError("Give the corrected amount.", field="corrected_amount")
            # NaN, infinities and amounts beyond what an amount column holds are refused here,
            # not by the database.
            if not corrected_amount.is_finite() or abs(corrected_amount) >= MAX_AMOUNT:
                raise DisputeError(
                    "Give the corrected amount as a number, e.g. 48.00.", field="corrected_amount"
                )
            corrected = round_money(corrected_amount, entry.currency)
            if corrected != corrected_amount:
                raise DisputeError(
                    "The corrected amount has too many decimal places.", field="corrected_amount"
                )
            difference = corrected - entry.amount
            if difference != ZERO:
                post_entries(
                    [
                        LedgerEntry(
                            partner_id=entry.partner_id,
                            currency=entry.currency,
                            kind=EntryKind.ADJUSTMENT,
                            month=posting_month(
                                partner_id=entry.partner_id,
                                currency=entry.currency,
                                month=dispute.statement.month,
                            ),
                            amount=difference,
                            description=_correction_text(entry, dispute),
                            source_key=f"dispute:{dispute.pk}:adjustment",
                            invoice_id=entry.invoice_id,
                            product_id=entry.product_id,
                            client_id=entry.client_id,
                            reverses=entry,
                        )
                    ]
                )
            dispute.status = DisputeStatus.UPHELD
            dispute.corrected_amount = corrected
        else:
            dispute.status = DisputeStatus.REJECTED
        dispute.resolution = _text(resolution)[:1000]
        dispute.resolved_by_label = actor.label[:254]
        dispute.resolved_at = timezone.now()
        dispute.save()
        drafts_refresh(partner_id=entry.partner_id, currency=entry.currency)
        audit_record(
            actor=actor,
            action="statement_dispute.resolved",
            instance=dispute,
            before=before,
            after=snapshot(dispute),
        )
    return dispute
