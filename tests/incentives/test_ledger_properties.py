"""Property: whatever sequence of postings, approvals, disputes and their resolutions, payout
runs, invoice credits (capped, split) and failed payouts happens, the ledger balances —
accrued − clawed back − paid = balance, every statement chains to the next, the latest carries
the balance — and a draft's payable is exactly its balance minus what open disputes hold."""

from __future__ import annotations

import contextlib
import datetime
from decimal import Decimal

import pytest
from django.db import transaction
from django_tenants.utils import schema_context
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from billing.closing.credits import InvoiceCreditRequest
from core.actors import Actor
from incentives.errors import IncentivesError
from incentives.models import (
    CommissionPlan,
    DisputeStatus,
    EntryKind,
    LedgerEntry,
    Payout,
    PayoutStatus,
    Statement,
    StatementDispute,
    StatementStatus,
)
from incentives.services import payouts as payouts_service
from incentives.services.disputes import dispute_open, dispute_resolve
from incentives.services.statements import statement_approve
from tests.factories import PartnerFactory

from .statement_support import check_ledger, post

pytestmark = pytest.mark.django_db

ACTOR = Actor.system("property")
MONTHS = [datetime.date(2026, m, 1) for m in range(1, 7)]

cents = st.integers(min_value=1, max_value=50_000).map(lambda c: Decimal(c) / 100)
operation = st.one_of(
    st.tuples(st.just("accrue"), st.integers(0, 5), cents),
    st.tuples(st.just("bonus"), st.integers(0, 5), cents),
    st.tuples(st.just("claw"), st.integers(0, 5), cents),
    st.tuples(st.just("approve")),
    st.tuples(st.just("dispute"), st.integers(0, 20)),
    st.tuples(st.just("resolve"), st.integers(0, 20), st.booleans(), cents),
    st.tuples(st.just("execute"), st.integers(0, 20)),
    st.tuples(st.just("credit"), st.integers(0, 100_000).map(lambda c: Decimal(c) / 100)),
    st.tuples(st.just("fail"), st.integers(0, 20)),
)


def _pick(queryset, index):
    rows = list(queryset.order_by("id"))
    return rows[index % len(rows)] if rows else None


def _apply(partner, op) -> None:
    kind = op[0]
    approved = (
        Statement.objects.filter(partner=partner)
        .exclude(status=StatementStatus.DRAFT)
        .order_by("-month")
        .values_list("month", flat=True)
        .first()
    )
    if kind in ("accrue", "bonus", "claw"):
        # Entries never name a month before the latest approved statement (see the report:
        # ledger.post_entries would open a draft behind it).
        month = max(MONTHS[op[1]], approved or MONTHS[0])
        amount = op[2] if kind != "claw" else -op[2]
        entry_kind = {
            "accrue": EntryKind.ACCRUAL,
            "bonus": EntryKind.GROWTH_BONUS,
            "claw": EntryKind.CLAWBACK,
        }[kind]
        post(partner, f"{month:%Y-%m}", amount, kind=entry_kind)
    elif kind == "approve":
        earliest = (
            Statement.objects.filter(partner=partner, status=StatementStatus.DRAFT)
            .order_by("month")
            .first()
        )
        if earliest is not None:
            statement_approve(statement_id=earliest.pk, actor=ACTOR)
    elif kind == "dispute":
        entry = _pick(
            LedgerEntry.objects.filter(
                partner=partner,
                kind__in=[EntryKind.ACCRUAL, EntryKind.GROWTH_BONUS, EntryKind.CLAWBACK],
            ),
            op[1],
        )
        if entry is not None:
            with contextlib.suppress(IncentivesError):
                dispute_open(
                    statement_id=entry.statement_id,
                    entry_id=entry.pk,
                    partner_id=partner.pk,
                    reason="property",
                    actor=ACTOR,
                )
    elif kind == "resolve":
        dispute = _pick(StatementDispute.objects.filter(status=DisputeStatus.OPEN), op[1])
        if dispute is not None:
            dispute_resolve(
                dispute_id=dispute.pk, uphold=op[2], corrected_amount=op[3], actor=ACTOR
            )
    elif kind == "execute":
        payout = _pick(Payout.objects.all(), op[1])
        if payout is not None:
            payouts_service.payout_execute(payout_id=payout.pk)
    elif kind == "credit":
        payouts_service.invoice_credits(
            InvoiceCreditRequest(
                invoice_id=None,  # type: ignore[arg-type]
                number="INV-PROP",
                partner_id=partner.pk,
                currency="EUR",
                month=MONTHS[-1],
                available=op[1],
            )
        )
    elif kind == "fail":
        payout = _pick(
            Payout.objects.filter(status__in=[PayoutStatus.PENDING, PayoutStatus.APPLIED]), op[1]
        )
        if payout is not None:
            with transaction.atomic():
                locked = (
                    Payout.objects.select_for_update().select_related("statement").get(pk=payout.pk)
                )
                payouts_service._fail(locked, "property: failed", actor=ACTOR)


def _check(partner) -> None:
    check_ledger(partner)
    for statement in Statement.objects.filter(partner=partner, status=StatementStatus.DRAFT):
        held = sum(
            (
                d.held_amount
                for d in StatementDispute.objects.filter(
                    status=DisputeStatus.OPEN,
                    statement__partner=partner,
                    statement__month__lte=statement.month,
                )
            ),
            Decimal(0),
        )
        assert statement.held == held
        assert statement.payable == max(statement.carried_forward - held, Decimal(0))
    for statement in Statement.objects.filter(partner=partner).exclude(
        status=StatementStatus.DRAFT
    ):
        # What approval paid out never includes what open disputes held then.
        balance = statement.carried_forward + statement.payable
        assert statement.payable <= max(balance - statement.held, Decimal(0))
    for payout in Payout.objects.filter(partner=partner):
        assert payout.amount > 0
        assert payout.amount <= payout.statement.payable


@settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    minimum=st.sampled_from([Decimal(0), Decimal("50.00"), Decimal("300.00")]),
    ops=st.lists(operation, min_size=1, max_size=25),
)
@example(
    minimum=Decimal(0),
    ops=[
        ("accrue", 0, Decimal("10.00")),
        ("accrue", 0, Decimal("5.00")),
        ("dispute", 0),
        ("approve",),
    ],
)
@example(
    minimum=Decimal("50.00"),
    ops=[
        ("accrue", 0, Decimal("80.00")),
        ("approve",),
        ("execute", 0),
        ("dispute", 0),
        ("accrue", 1, Decimal("30.00")),
        ("approve",),
        ("resolve", 0, False, Decimal("1.00")),
        ("credit", Decimal("20.00")),
        ("approve",),
        ("fail", 0),
    ],
)
@example(
    # A reversal for an approved month must not open a draft behind a later approved statement.
    minimum=Decimal(0),
    ops=[
        ("accrue", 0, Decimal("0.01")),
        ("accrue", 2, Decimal("0.01")),
        ("approve",),
        ("approve",),
        ("dispute", 0),
    ],
)
def test_the_ledger_always_balances(vendor_a, monkeypatch, minimum, ops):
    monkeypatch.setattr("incentives.services.statements._dispatch_payout", lambda payout_id: None)
    with schema_context(vendor_a.schema), transaction.atomic():
        CommissionPlan.objects.create(
            name="P", basis="billed", effective_from=MONTHS[0], minimum_payout=minimum
        )
        partner = PartnerFactory()
        for op in ops:
            _apply(partner, op)
            _check(partner)
        transaction.set_rollback(True)
