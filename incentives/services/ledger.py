"""Posting to the commission ledger: the one way entries are written.

`post_entries` takes unsaved `LedgerEntry` objects (no statement yet), puts each on its
partner's draft statement for the entry's month — or, when that statement is already approved,
on the partner's next draft statement — and inserts them with ON CONFLICT (source_key) DO
NOTHING, so posting a fact twice writes it once. The draft statements it touched get their
figures recomputed. Call it inside the caller's transaction (it locks the statements it uses,
so approval, which locks the statement too, never misses an entry).
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Sequence
from decimal import Decimal

from django.db import transaction
from django.db.models import Sum

from billing.closing.rate import next_month
from core.money import ZERO

from ..models import DisputeStatus, EntryKind, LedgerEntry, Statement, StatementStatus

__all__ = ["post_entries", "statement_refresh", "statements_refresh"]

# Statement figure ← entry kinds summed into it.
_FIGURES: dict[str, tuple[str, ...]] = {
    "accrued": (EntryKind.ACCRUAL,),
    "bonuses": (EntryKind.GROWTH_BONUS, EntryKind.NEW_CLIENT_BONUS),
    "clawbacks": (EntryKind.CLAWBACK,),
    "adjustments": (EntryKind.ADJUSTMENT, EntryKind.PAYOUT_REVERSAL),
}

Key = tuple[int, str]  # (partner_id, currency)


def _draft_statements(
    wanted: set[tuple[int, str, datetime.date]],
) -> dict[tuple[int, str, datetime.date], Statement]:
    """(partner, currency, month) → the draft statement its entries go to, locked: that month's,
    or the first later month's when that month's statement is already approved."""
    result: dict[tuple[int, str, datetime.date], Statement] = {}
    frontier = {key: key for key in wanted}  # wanted key → month tried now
    for _ in range(240):  # 20 years of approved statements ahead of an entry is plenty
        if not frontier:
            return result
        candidates = set(frontier.values())
        Statement.objects.bulk_create(
            [Statement(partner_id=p, currency=c, month=m) for p, c, m in sorted(candidates)],
            ignore_conflicts=True,
        )
        found = {
            (s.partner_id, s.currency, s.month): s
            for s in Statement.objects.select_for_update()
            .filter(
                partner_id__in={p for p, _, _ in candidates},
                month__in={m for _, _, m in candidates},
            )
            .order_by("id")
        }
        later = {}
        for key, tried in frontier.items():
            statement = found[tried]
            if statement.status == StatementStatus.DRAFT:
                result[key] = statement
            else:
                later[key] = (tried[0], tried[1], next_month(tried[2]))
        frontier = later
    raise RuntimeError("No draft statement within 20 years of an entry's month.")


def post_entries(entries: Sequence[LedgerEntry]) -> int:
    """Post `entries` (unsaved, `statement` unset); returns how many were new."""
    if not entries:
        return 0
    with transaction.atomic():
        drafts = _draft_statements({(e.partner_id, e.currency, e.month) for e in entries})
        for entry in entries:
            entry.statement = drafts[(entry.partner_id, entry.currency, entry.month)]
        keys = [e.source_key for e in entries]
        before = set(
            LedgerEntry.objects.filter(source_key__in=keys).values_list("source_key", flat=True)
        )
        LedgerEntry.objects.bulk_create(entries, ignore_conflicts=True, batch_size=2000)
        statements_refresh({e.statement_id for e in entries})
    return len(set(keys) - before)


def _opening(statement: Statement) -> Decimal:
    previous = (
        Statement.objects.filter(
            partner_id=statement.partner_id,
            currency=statement.currency,
            month__lt=statement.month,
        )
        .exclude(status=StatementStatus.DRAFT)
        .order_by("-month")
        .values_list("carried_forward", flat=True)
        .first()
    )
    return previous if previous is not None else ZERO


def statement_refresh(statement: Statement) -> Statement:
    """Recompute a draft statement's figures from its entries (approved ones are frozen)."""
    if statement.status != StatementStatus.DRAFT:
        return statement
    sums = {
        row["kind"]: row["total"]
        for row in LedgerEntry.objects.filter(statement=statement)
        .values("kind")
        .annotate(total=Sum("amount"))
        .order_by()
    }
    for figure, kinds in _FIGURES.items():
        setattr(statement, figure, sum((sums.get(k, ZERO) for k in kinds), ZERO))
    statement.held = (
        statement.disputes.filter(status=DisputeStatus.OPEN).aggregate(total=Sum("held_amount"))[
            "total"
        ]
        or ZERO
    )
    statement.opening_balance = _opening(statement)
    balance = (
        statement.opening_balance
        + statement.accrued
        + statement.bonuses
        + statement.clawbacks
        + statement.adjustments
    )
    statement.payable = max(balance - statement.held, ZERO)
    statement.carried_forward = balance
    statement.save(
        update_fields=[
            *_FIGURES,
            "held",
            "opening_balance",
            "payable",
            "carried_forward",
            "updated_at",
        ]
    )
    return statement


def statements_refresh(statement_ids: Iterable[int]) -> None:
    for statement in Statement.objects.filter(pk__in=set(statement_ids)).order_by("id"):
        statement_refresh(statement)
