"""Statement approval: finance freezes a partner's month and decides what is paid out.

Approving a draft statement (alone or in bulk, locked, its figures recomputed):

    balance = opening + accrued + bonuses + clawbacks + adjustments      (Σ of its entries)
    held    = Σ held_amount of the partner's open disputes (of this or earlier statements)
    payable = max(balance − held, 0)

When `payable` is positive and reaches the commission plan's `minimum_payout` (the plan in force
for the statement's month; 0 without one), one `Payout` of `payable` is created and a PAYOUT entry
of −payable is posted **to this statement** (it is posted while the statement is still the draft,
so `post_entries` puts it here): the statement then reads

    carried_forward = balance − payout

and the next statement opens with it. Below the threshold nothing is paid and the whole balance
is carried forward. So, for every partner and currency, Σ of all ledger entries equals the
`carried_forward` of its latest statement (once refreshed): accrued − clawed back − paid = balance.

A statement with nothing to pay and nothing held (balance 0) is approved straight to `paid`;
otherwise it is `approved` until its payout is paid (`incentives.services.payouts`).

Held amounts stay in the balance that is carried forward; every later statement keeps holding
them (disputes of earlier statements count) until finance resolves the dispute, so a held amount
is paid with the first payout after it is released, and never twice.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Sequence
from decimal import Decimal

from django.db import connection, transaction
from django.db.models import Sum
from django.utils import timezone

from core.actors import Actor
from core.events import publish
from core.money import ZERO
from core.services.audit import audit_record, snapshot

from ..errors import StatementStateError
from ..models import (
    CommissionPlan,
    DisputeStatus,
    EntryKind,
    LedgerEntry,
    Payout,
    PayoutMethod,
    PayoutProfile,
    Statement,
    StatementDispute,
    StatementStatus,
)
from .ledger import post_entries, statement_refresh

__all__ = [
    "ApprovalResult",
    "drafts_refresh",
    "minimum_payout_for",
    "open_held",
    "posting_month",
    "statement_approve",
    "statement_figures_refresh",
    "statements_approve",
]

FIGURE_FIELDS = ["held", "payable", "updated_at"]


def open_held(*, partner_id: int, currency: str, month: datetime.date) -> Decimal:
    """What the partner's open disputes hold back from a statement of `month`: those of that
    statement and of every earlier one (their amounts were carried forward)."""
    total = StatementDispute.objects.filter(
        status=DisputeStatus.OPEN,
        statement__partner_id=partner_id,
        statement__currency=currency,
        statement__month__lte=month,
    ).aggregate(total=Sum("held_amount"))["total"]
    return total if total is not None else ZERO


def posting_month(*, partner_id: int, currency: str, month: datetime.date) -> datetime.date:
    """The month to give an entry posted now (a reversal, an adjustment): never before the
    partner's latest approved statement, so `post_entries` puts it on the draft after it rather
    than opening a draft behind an approved statement (which would break the balance chain)."""
    latest = (
        Statement.objects.filter(partner_id=partner_id, currency=currency)
        .exclude(status=StatementStatus.DRAFT)
        .order_by("-month")
        .values_list("month", flat=True)
        .first()
    )
    return max(month, latest) if latest is not None else month


def minimum_payout_for(month: datetime.date) -> Decimal:
    """The minimum payout of the commission plan in force for `month` (0 without a plan)."""
    minimum = (
        CommissionPlan.objects.filter(effective_from__lte=month)
        .order_by("-effective_from")
        .values_list("minimum_payout", flat=True)
        .first()
    )
    return minimum if minimum is not None else ZERO


def statement_figures_refresh(statement: Statement) -> Statement:
    """A draft's figures from its entries (ledger.statement_refresh), with `held` counting the
    open disputes of earlier statements too. Approved statements are frozen."""
    statement_refresh(statement)
    if statement.status != StatementStatus.DRAFT:
        return statement
    statement.held = open_held(
        partner_id=statement.partner_id, currency=statement.currency, month=statement.month
    )
    statement.payable = max(statement.carried_forward - statement.held, ZERO)
    statement.save(update_fields=FIGURE_FIELDS)
    return statement


def drafts_refresh(*, partner_id: int, currency: str) -> None:
    """Recompute every draft statement of a partner and currency (after an approval, a dispute or
    a payout change moved what they open with or hold)."""
    for statement in (
        Statement.objects.select_for_update()
        .filter(partner_id=partner_id, currency=currency, status=StatementStatus.DRAFT)
        .order_by("month")
    ):
        statement_figures_refresh(statement)


def _balance(statement: Statement) -> Decimal:
    return (
        statement.opening_balance
        + statement.accrued
        + statement.bonuses
        + statement.clawbacks
        + statement.adjustments
    )


def transfer_group_for(statement: Statement) -> str:
    # Unique across tenants too: one Stripe platform account may serve several vendors.
    return f"payout-{connection.schema_name}-{statement.pk}"


class ApprovalResult:
    __slots__ = ("approved", "skipped")

    def __init__(self) -> None:
        self.approved: list[Statement] = []
        self.skipped: list[tuple[Statement, str]] = []


def _approve_locked(statement: Statement, *, actor: Actor, now: datetime.datetime) -> Payout | None:
    """Approve a locked draft statement; the caller holds the transaction."""
    earlier = (
        Statement.objects.filter(
            partner_id=statement.partner_id,
            currency=statement.currency,
            month__lt=statement.month,
            status=StatementStatus.DRAFT,
        )
        .order_by("month")
        .first()
    )
    if earlier is not None:
        # The balance chains month to month: an earlier draft would be left out of it.
        raise StatementStateError(
            f"Approve the {earlier.month:%B %Y} statement of this partner first."
        )
    before = snapshot(statement)
    statement_refresh(statement)
    balance = _balance(statement)
    held = open_held(
        partner_id=statement.partner_id, currency=statement.currency, month=statement.month
    )
    payable = max(balance - held, ZERO)
    payout = None
    if payable > ZERO and payable >= minimum_payout_for(statement.month):
        profile = PayoutProfile.objects.filter(partner_id=statement.partner_id).first()
        payout = Payout.objects.create(
            statement=statement,
            partner_id=statement.partner_id,
            method=profile.method if profile else PayoutMethod.INVOICE_CREDIT,
            currency=statement.currency,
            amount=payable,
            transfer_group=transfer_group_for(statement),
        )
        # Posted while the statement is still the draft, so the entry lands on it.
        post_entries(
            [
                LedgerEntry(
                    partner_id=statement.partner_id,
                    currency=statement.currency,
                    kind=EntryKind.PAYOUT,
                    month=statement.month,
                    amount=-payable,
                    description=f"Payout of the {statement.month:%B %Y} statement",
                    source_key=f"payout:{payout.pk}",
                    payout=payout,
                )
            ]
        )
        statement.refresh_from_db()
    paid_out = payout.amount if payout else ZERO
    statement.held = held
    statement.payable = paid_out
    statement.carried_forward = balance - paid_out
    statement.status = (
        StatementStatus.PAID
        if payout is None and balance == ZERO and held == ZERO
        else StatementStatus.APPROVED
    )
    statement.approved_at = now
    statement.approved_by_label = actor.label[:254]
    statement.save()
    audit_record(
        actor=actor,
        action="statement.approved",
        instance=statement,
        before=before,
        after={**snapshot(statement), "payout": payout.pk if payout else None},
    )
    publish("statement.approved", statement_id=statement.pk)
    if payout is not None:
        payout_id = payout.pk
        transaction.on_commit(lambda: _dispatch_payout(payout_id))
    return payout


def _dispatch_payout(payout_id: int) -> None:
    from ..tasks import execute_payout  # tasks import services: import here, not at the top

    execute_payout.delay(payout_id)


def statement_approve(
    *, statement_id: int, actor: Actor, now: datetime.datetime | None = None
) -> Statement:
    """Approve one draft statement (see the module docstring); StatementStateError otherwise."""
    now = now or timezone.now()
    with transaction.atomic():
        statement = Statement.objects.select_for_update().get(pk=statement_id)
        if statement.status != StatementStatus.DRAFT:
            raise StatementStateError(
                f"The statement is {statement.get_status_display().lower()}: only a draft "
                "statement can be approved."
            )
        _approve_locked(statement, actor=actor, now=now)
        drafts_refresh(partner_id=statement.partner_id, currency=statement.currency)
    return statement


def statements_approve(
    *, statement_ids: Iterable[int], actor: Actor, now: datetime.datetime | None = None
) -> ApprovalResult:
    """Bulk approval in one transaction: the drafts among `statement_ids`, earliest month first
    (so a partner's earlier statement is approved before its later one); statements that are
    not drafts, or wait for an earlier one left out, are skipped with the reason."""
    now = now or timezone.now()
    result = ApprovalResult()
    with transaction.atomic():
        statements: Sequence[Statement] = list(
            Statement.objects.select_for_update()
            .filter(pk__in=set(statement_ids))
            .order_by("month", "partner_id", "currency", "id")
        )
        touched: set[tuple[int, str]] = set()
        for statement in statements:
            if statement.status != StatementStatus.DRAFT:
                result.skipped.append((statement, "not a draft"))
                continue
            try:
                with transaction.atomic():
                    _approve_locked(statement, actor=actor, now=now)
            except StatementStateError as exc:
                statement.refresh_from_db()
                result.skipped.append((statement, str(exc)))
                continue
            result.approved.append(statement)
            touched.add((statement.partner_id, statement.currency))
        for partner_id, currency in sorted(touched):
            drafts_refresh(partner_id=partner_id, currency=currency)
    return result
