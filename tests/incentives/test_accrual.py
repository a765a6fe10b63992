"""Accrual from finalized invoices, exactly once, with clawbacks from credit notes and
write-offs, on both bases."""

from __future__ import annotations

from decimal import Decimal
from unittest import mock

import pytest
from django_tenants.utils import schema_context

from billing.services.credit_notes import credit_note_create
from billing.services.invoice_payments import invoice_mark_paid, invoice_mark_uncollectible
from incentives.models import LedgerEntry, Statement
from incentives.services.accrual import period_accrue
from tests.billing.invoice_fixtures import run_deferred_checks

from .accrual_support import ACTOR, World, balance, first, ledger

D = Decimal
pytestmark = pytest.mark.django_db


@pytest.fixture
def world(vendor_a):
    with schema_context(vendor_a.schema):
        yield World()
        run_deferred_checks(vendor_a)


def test_billed_accrual_per_invoice_and_product_exactly_once(world):
    world.plan()
    invoice = world.october()
    backup, storage = world.backup.pk, world.storage.pk
    assert period_accrue(period_id=invoice.period_id) == 2
    # Backup 189.00 × 12.5 % (Gold, plan) × 1.2 = 28.35; Storage 25.51 × 20 % (override) × 1.2
    # = 6.1224 → 6.12 (the −4.50 adjustment counts toward the basis).
    assert ledger(invoice=invoice) == [
        (f"acc:{invoice.pk}:p{backup}", "accrual", D("28.35")),
        (f"acc:{invoice.pk}:p{storage}", "accrual", D("6.12")),
    ]
    entry = LedgerEntry.objects.get(source_key=f"acc:{invoice.pk}:p{storage}")
    assert (entry.basis, entry.rate_pct, entry.multiplier, entry.month) == (
        D("25.51"),
        D("20"),
        D("1.2"),
        first("2026-10"),
    )
    # Run twice: nothing new, same ledger, same statement.
    assert period_accrue(period_id=invoice.period_id) == 0
    assert LedgerEntry.objects.filter(partner=world.alpha).count() == 2
    statement = Statement.objects.get(partner=world.alpha, month=first("2026-10"))
    assert (statement.accrued, statement.carried_forward, statement.payable) == (
        D("34.47"),
        D("34.47"),
        D("34.47"),
    )


def test_no_plan_no_commission(world):
    invoice = world.october()
    assert period_accrue(period_id=invoice.period_id) == 0
    assert not LedgerEntry.objects.exists()


def test_tier_benefit_when_the_plan_has_no_rate_for_the_tier(world):
    from incentives.services.plans import commission_plan_create

    commission_plan_create(
        name="Benefit only", basis="billed", effective_from=first("2026-01"), actor=ACTOR
    )
    invoice = world.october()
    period_accrue(period_id=invoice.period_id)
    # 10 % (the tier's benefit), no accelerator: 18.90 and 2.551 → 2.55.
    assert [a for _, _, a in ledger(invoice=invoice)] == [D("18.90"), D("2.55")]


def test_finalize_dispatches_the_task_on_commit(world, django_capture_on_commit_callbacks):
    from core.events import publish

    invoice = world.october()
    with (
        mock.patch("incentives.tasks.accrue_period.delay") as delay,
        django_capture_on_commit_callbacks(execute=True),
    ):
        publish("billing_period.finalized", period_id=invoice.period_id)
    delay.assert_called_once_with(invoice.period_id)


def test_credit_notes_claw_back_exactly_what_they_credit(world):
    world.plan()
    invoice = world.october()
    period_accrue(period_id=invoice.period_id)
    kiwi_seats = invoice.lines.get(position=1)  # net 108.00
    note = credit_note_create(
        invoice=invoice,
        reason="Half the seats were never used",
        actor=ACTOR,
        lines=[{"invoice_line": kiwi_seats.pk, "amount": D("54.00")}],
    )
    # 54.00 × 12.5 % × 1.2 = 8.10
    assert ledger(credit_note=note) == [
        (f"cn:{note.pk}:p{world.backup.pk}", "clawback", D("-8.10"))
    ]
    # The rest of the invoice, as a whole-invoice amount: every group's remaining commission.
    rest = credit_note_create(invoice=invoice, reason="Goodwill", actor=ACTOR, amount=D("160.51"))
    assert ledger(credit_note=rest) == [
        (f"cn:{rest.pk}:p{world.backup.pk}", "clawback", D("-20.25")),
        (f"cn:{rest.pk}:p{world.storage.pk}", "clawback", D("-6.12")),
    ]
    assert balance(world.alpha) == 0
    statement = Statement.objects.get(partner=world.alpha, month=first("2026-10"))
    assert (statement.accrued, statement.clawbacks, statement.carried_forward) == (
        D("34.47"),
        D("-34.47"),
        D("0.00"),
    )
    # Handled again (an event delivered twice): nothing new.
    from incentives.services.accrual import invoice_on_credit_note

    assert invoice_on_credit_note(rest.pk) == 0


def test_credit_before_accrual_is_clawed_back_when_the_accrual_runs(world):
    world.plan()
    invoice = world.october()
    note = credit_note_create(invoice=invoice, reason="Early", actor=ACTOR, amount=D("214.51"))
    assert not LedgerEntry.objects.exists()  # nothing accrued yet, nothing to take back
    period_accrue(period_id=invoice.period_id)
    assert ledger(credit_note=note) == [
        (f"cn:{note.pk}:p{world.backup.pk}", "clawback", D("-28.35")),
        (f"cn:{note.pk}:p{world.storage.pk}", "clawback", D("-6.12")),
    ]
    assert balance(world.alpha) == 0


def test_write_off_claws_back_what_stands_and_payment_restores_it(world):
    world.plan()
    invoice = world.october()
    period_accrue(period_id=invoice.period_id)
    kiwi_seats = invoice.lines.get(position=1)
    credit_note_create(
        invoice=invoice,
        reason="Partial",
        actor=ACTOR,
        lines=[{"invoice_line": kiwi_seats.pk, "amount": D("54.00")}],
    )
    invoice_mark_uncollectible(invoice_id=invoice.pk, actor=ACTOR)
    backup, storage = world.backup.pk, world.storage.pk
    assert ledger(source_key__startswith=f"unc:{invoice.pk}:") == [
        (f"unc:{invoice.pk}:p{backup}", "clawback", D("-20.25")),
        (f"unc:{invoice.pk}:p{storage}", "clawback", D("-6.12")),
    ]
    assert balance(world.alpha) == 0
    invoice_mark_paid(invoice_id=invoice.pk, actor=ACTOR, reference="late transfer")
    assert ledger(source_key__startswith=f"unc-rev:{invoice.pk}:") == [
        (f"unc-rev:{invoice.pk}:p{backup}", "accrual", D("20.25")),
        (f"unc-rev:{invoice.pk}:p{storage}", "accrual", D("6.12")),
    ]
    restored = LedgerEntry.objects.get(source_key=f"unc-rev:{invoice.pk}:p{backup}")
    assert restored.reverses.source_key == f"unc:{invoice.pk}:p{backup}"
    assert balance(world.alpha) == D("26.37")  # 34.47 − 8.10
    assert period_accrue(period_id=invoice.period_id) == 0


def test_collected_basis_accrues_on_payment_only(world):
    world.plan(basis="collected")
    invoice = world.october()
    assert period_accrue(period_id=invoice.period_id) == 0
    # Credited while unpaid: nothing was accrued, nothing to claw back.
    kiwi_seats = invoice.lines.get(position=1)
    note = credit_note_create(
        invoice=invoice,
        reason="Unused",
        actor=ACTOR,
        lines=[{"invoice_line": kiwi_seats.pk, "amount": D("54.00")}],
    )
    assert not LedgerEntry.objects.exists()
    invoice_mark_paid(invoice_id=invoice.pk, actor=ACTOR)
    assert ledger(partner=world.alpha) == [
        (f"acc:{invoice.pk}:p{world.backup.pk}", "accrual", D("28.35")),
        (f"acc:{invoice.pk}:p{world.storage.pk}", "accrual", D("6.12")),
        (f"cn:{note.pk}:p{world.backup.pk}", "clawback", D("-8.10")),
    ]
    assert balance(world.alpha) == D("26.37")


def test_collected_write_off_claws_back_nothing(world):
    world.plan(basis="collected")
    invoice = world.october()
    invoice_mark_uncollectible(invoice_id=invoice.pk, actor=ACTOR)
    assert not LedgerEntry.objects.exists()
    invoice_mark_paid(invoice_id=invoice.pk, actor=ACTOR)
    assert balance(world.alpha) == D("34.47")
    assert not LedgerEntry.objects.filter(source_key__startswith="unc").exists()


def test_accrual_lands_on_the_next_draft_when_the_month_is_approved(world):
    world.plan()
    invoice = world.october()
    Statement.objects.create(
        partner=world.alpha, month=first("2026-10"), currency="EUR", status="approved"
    )
    period_accrue(period_id=invoice.period_id)
    statements = {e.statement.month for e in LedgerEntry.objects.select_related("statement")}
    assert statements == {first("2026-11")}


def test_statement_figures_moved_by_postings_equal_a_full_recompute(world):
    from incentives.services.ledger import statements_refresh

    world.plan()
    invoice = world.october()
    period_accrue(period_id=invoice.period_id)
    credit_note_create(invoice=invoice, reason="Part", actor=ACTOR, amount=D("100.00"))
    fields = ("opening_balance", "accrued", "clawbacks", "held", "payable", "carried_forward")
    before = list(Statement.objects.order_by("id").values_list(*fields))
    statements_refresh(Statement.objects.values_list("id", flat=True))
    assert list(Statement.objects.order_by("id").values_list(*fields)) == before
    assert before == [(0, D("34.47"), D("-16.07"), 0, D("18.40"), D("18.40"))]


def test_a_killed_run_then_a_rerun_leaves_one_clean_run(world):
    from django.db import transaction

    world.plan()
    world.growth_rule()
    invoice = world.october()

    class Killed(Exception):
        pass

    with pytest.raises(Killed), transaction.atomic():
        period_accrue(period_id=invoice.period_id)
        raise Killed  # the worker died before the commit: nothing of the run stays
    assert not LedgerEntry.objects.exists()
    assert period_accrue(period_id=invoice.period_id) == 2
    assert period_accrue(period_id=invoice.period_id) == 0
    assert balance(world.alpha) == D("34.47")


def test_one_audit_row_per_accrual_that_posted_something(world):
    from core.models import AuditEntry

    world.plan()
    invoice = world.october()
    period_accrue(period_id=invoice.period_id)
    period_accrue(period_id=invoice.period_id)
    rows = AuditEntry.objects.filter(action="commission.period_accrued")
    assert [row.after["new_entries"] for row in rows] == [2]
