"""Helpers of the statement, dispute and payout tests: ledger postings written through
`post_entries` (as accrual does), balances, and the ledger invariant checked independently."""

from __future__ import annotations

import datetime
import itertools
from decimal import Decimal

from django.db.models import Sum

from incentives.models import (
    EntryKind,
    LedgerEntry,
    Payout,
    PayoutStatus,
    Statement,
    StatementStatus,
)
from incentives.services.ledger import post_entries
from partners.models import Partner

_keys = itertools.count(1)
D = Decimal


def month(value: str) -> datetime.date:
    year, number = value.split("-")
    return datetime.date(int(year), int(number), 1)


def post(
    partner: Partner,
    when: str,
    amount: Decimal | str,
    kind: str = EntryKind.ACCRUAL,
    currency: str = "EUR",
    **fields,
) -> LedgerEntry:
    key = fields.pop("source_key", f"test:{kind}:{next(_keys)}")
    post_entries(
        [
            LedgerEntry(
                partner=partner,
                currency=currency,
                kind=kind,
                month=month(when),
                amount=D(amount),
                description=fields.pop("description", f"{kind} {amount}"),
                source_key=key,
                **fields,
            )
        ]
    )
    return LedgerEntry.objects.get(source_key=key)


def statement_of(partner: Partner, when: str, currency: str = "EUR") -> Statement:
    return Statement.objects.get(partner=partner, month=month(when), currency=currency)


def balance(partner: Partner, currency: str = "EUR") -> Decimal:
    total = LedgerEntry.objects.filter(partner=partner, currency=currency).aggregate(
        t=Sum("amount")
    )["t"]
    return total if total is not None else D("0")


def sum_kind(partner: Partner, *kinds: str, currency: str = "EUR") -> Decimal:
    total = LedgerEntry.objects.filter(
        partner=partner, currency=currency, kind__in=kinds
    ).aggregate(t=Sum("amount"))["t"]
    return total if total is not None else D("0")


def check_ledger(partner: Partner, currency: str = "EUR") -> None:
    """accrued − clawed back − paid = balance, and the statements chain to it."""
    earned = sum_kind(
        partner,
        EntryKind.ACCRUAL,
        EntryKind.GROWTH_BONUS,
        EntryKind.NEW_CLIENT_BONUS,
        EntryKind.ADJUSTMENT,
        currency=currency,
    )
    clawed = -sum_kind(partner, EntryKind.CLAWBACK, currency=currency)
    # Paid (or on its way): what payouts still carry — failed, withheld or uncredited parts
    # came back as reversals.
    paid = -sum_kind(partner, EntryKind.PAYOUT, EntryKind.PAYOUT_REVERSAL, currency=currency)
    live = Payout.objects.filter(partner=partner, currency=currency).exclude(
        status=PayoutStatus.FAILED
    ).aggregate(t=Sum("amount"))["t"] or D("0")
    assert paid == live, (paid, live)
    assert earned - clawed - paid == balance(partner, currency)
    statements = list(
        Statement.objects.filter(partner=partner, currency=currency).order_by("month")
    )
    carried = D("0")  # the last approved statement's carried_forward
    drafts = D("0")
    for statement in statements:
        assert statement.opening_balance == carried, (statement.month, statement.opening_balance)
        own = LedgerEntry.objects.filter(statement=statement).aggregate(t=Sum("amount"))["t"] or 0
        assert statement.carried_forward == statement.opening_balance + own, statement.month
        if statement.status == StatementStatus.DRAFT:
            drafts += own
        else:
            assert drafts == 0, "an approved statement after a draft one"
            carried = statement.carried_forward
    assert carried + drafts == balance(partner, currency)
