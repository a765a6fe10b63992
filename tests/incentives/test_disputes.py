"""incentives.services.disputes: a dispute holds exactly its entry's amount out of what is paid
(on a draft, at approval, on later statements, and out of a payout not yet sent), finance rejects
(released into the next payout) or upholds with a corrected amount (an adjustment entry);
refusals change nothing."""

from __future__ import annotations

import pytest
from django_tenants.utils import schema_context

from core.actors import Actor
from core.models import AuditEntry
from incentives.errors import DisputeError
from incentives.models import (
    DisputeStatus,
    EntryKind,
    LedgerEntry,
    Payout,
    PayoutStatus,
    Statement,
    StatementDispute,
    StatementStatus,
)
from incentives.services.disputes import dispute_open, dispute_resolve
from incentives.services.statements import statement_approve
from tests.factories import PartnerFactory

from .statement_support import D, check_ledger, post, statement_of

pytestmark = pytest.mark.django_db

PARTNER_USER = Actor.system("owner@msp.example")
FINANCE = Actor.system("finance@vendor.example")


def _open(partner, entry, reason="Rate should be 12 %"):
    return dispute_open(
        statement_id=entry.statement_id,
        entry_id=entry.pk,
        partner_id=partner.pk,
        reason=reason,
        actor=PARTNER_USER,
    )


def test_a_dispute_holds_only_that_amount(vendor_a):
    with schema_context(vendor_a.schema):
        partner = PartnerFactory()
        disputed = post(partner, "2026-10", "40.00")
        post(partner, "2026-10", "60.00")
        dispute = _open(partner, disputed)
        assert (dispute.status, dispute.held_amount) == (DisputeStatus.OPEN, D("40.00"))
        statement = statement_of(partner, "2026-10")
        assert (statement.held, statement.payable, statement.carried_forward) == (
            D("40.00"),
            D("60.00"),
            D("100.00"),
        )
        statement_approve(statement_id=statement.pk, actor=FINANCE)
        statement.refresh_from_db()
        assert (statement.payable, statement.carried_forward) == (D("60.00"), D("40.00"))
        assert Payout.objects.get().amount == D("60.00")

        # Still held on the next statement (the amount was carried forward).
        post(partner, "2026-11", "5.00")
        november = statement_of(partner, "2026-11")
        assert (november.opening_balance, november.held, november.payable) == (
            D("40.00"),
            D("40.00"),
            D("5.00"),
        )
        check_ledger(partner)


def test_rejecting_releases_the_amount_into_the_next_payout(vendor_a):
    with schema_context(vendor_a.schema):
        partner = PartnerFactory()
        disputed = post(partner, "2026-10", "40.00")
        post(partner, "2026-10", "60.00")
        dispute = _open(partner, disputed)
        statement_approve(statement_id=statement_of(partner, "2026-10").pk, actor=FINANCE)
        post(partner, "2026-11", "5.00")

        dispute_resolve(dispute_id=dispute.pk, uphold=False, actor=FINANCE, resolution="Correct")
        dispute.refresh_from_db()
        assert (dispute.status, dispute.resolved_by_label) == (
            DisputeStatus.REJECTED,
            FINANCE.label,
        )
        november = statement_of(partner, "2026-11")
        assert (november.held, november.payable) == (D("0"), D("45.00"))
        assert not LedgerEntry.objects.filter(kind=EntryKind.ADJUSTMENT).exists()
        statement_approve(statement_id=november.pk, actor=FINANCE)
        assert sorted(Payout.objects.values_list("amount", flat=True)) == [D("45.00"), D("60.00")]
        check_ledger(partner)
        assert AuditEntry.objects.filter(action="statement_dispute.resolved").count() == 1


def test_upholding_posts_the_difference_as_an_adjustment(vendor_a):
    with schema_context(vendor_a.schema):
        partner = PartnerFactory()
        disputed = post(partner, "2026-10", "40.00")
        dispute = _open(partner, disputed)
        dispute_resolve(
            dispute_id=dispute.pk, uphold=True, corrected_amount=D("48.00"), actor=FINANCE
        )
        adjustment = LedgerEntry.objects.get(kind=EntryKind.ADJUSTMENT)
        assert (adjustment.amount, adjustment.statement_id, adjustment.reverses_id) == (
            D("8.00"),
            disputed.statement_id,
            disputed.pk,
        )
        statement = statement_of(partner, "2026-10")
        assert (statement.adjustments, statement.held, statement.payable) == (
            D("8.00"),
            D("0"),
            D("48.00"),
        )
        dispute.refresh_from_db()
        assert (dispute.status, dispute.corrected_amount) == (DisputeStatus.UPHELD, D("48.00"))
        check_ledger(partner)


def test_upholding_after_approval_adjusts_the_next_statement(vendor_a):
    with schema_context(vendor_a.schema):
        partner = PartnerFactory()
        disputed = post(partner, "2026-10", "40.00")
        post(partner, "2026-10", "10.00")
        dispute = _open(partner, disputed)
        statement_approve(statement_id=disputed.statement_id, actor=FINANCE)
        dispute_resolve(
            dispute_id=dispute.pk, uphold=True, corrected_amount=D("30.00"), actor=FINANCE
        )
        november = statement_of(partner, "2026-11")
        assert (november.opening_balance, november.adjustments, november.payable) == (
            D("40.00"),
            D("-10.00"),
            D("30.00"),
        )
        check_ledger(partner)


def test_a_dispute_on_an_approved_statement_shrinks_its_unsent_payout(vendor_a):
    with schema_context(vendor_a.schema):
        partner = PartnerFactory()
        disputed = post(partner, "2026-10", "40.00")
        post(partner, "2026-10", "60.00")
        statement_approve(statement_id=disputed.statement_id, actor=FINANCE)
        payout = Payout.objects.get()
        payout.status = PayoutStatus.APPLIED  # waiting for the next invoice
        payout.save()
        _open(partner, disputed)
        payout.refresh_from_db()
        assert (payout.amount, payout.status) == (D("60.00"), PayoutStatus.APPLIED)
        reversal = LedgerEntry.objects.get(kind=EntryKind.PAYOUT_REVERSAL)
        assert reversal.amount == D("40.00")
        november = statement_of(partner, "2026-11")
        assert (november.adjustments, november.held, november.payable) == (
            D("40.00"),
            D("40.00"),
            D("0"),
        )
        check_ledger(partner)


def test_a_hold_covering_the_whole_unsent_payout_withholds_it(vendor_a):
    with schema_context(vendor_a.schema):
        partner = PartnerFactory()
        disputed = post(partner, "2026-10", "40.00")
        post(partner, "2026-10", "-15.00", kind=EntryKind.CLAWBACK)
        statement_approve(statement_id=disputed.statement_id, actor=FINANCE)
        _open(partner, disputed)
        payout = Payout.objects.get()
        assert (payout.status, payout.amount) == (PayoutStatus.FAILED, D("25.00"))
        assert statement_of(partner, "2026-11").payable == D("0")
        check_ledger(partner)


def test_disputing_a_clawback_holds_nothing(vendor_a):
    with schema_context(vendor_a.schema):
        partner = PartnerFactory()
        post(partner, "2026-10", "40.00")
        clawback = post(partner, "2026-10", "-15.00", kind=EntryKind.CLAWBACK)
        dispute = _open(partner, clawback)
        assert dispute.held_amount == D("0")
        assert statement_of(partner, "2026-10").payable == D("25.00")


@pytest.mark.parametrize("case", ["other_partner", "paid", "payout_entry", "twice", "no_reason"])
def test_refusals_change_nothing(vendor_a, case):
    with schema_context(vendor_a.schema):
        partner, other = PartnerFactory(), PartnerFactory()
        entry = post(partner, "2026-10", "40.00")
        expected: type[Exception] = DisputeError
        partner_id, reason = partner.pk, "Wrong"
        if case == "other_partner":
            partner_id, expected = other.pk, Statement.DoesNotExist
        elif case == "paid":
            Statement.objects.filter(pk=entry.statement_id).update(status=StatementStatus.PAID)
        elif case == "payout_entry":
            statement_approve(statement_id=entry.statement_id, actor=FINANCE)
            Statement.objects.filter(pk=entry.statement_id).update(status=StatementStatus.DRAFT)
            entry = LedgerEntry.objects.get(kind=EntryKind.PAYOUT)
        elif case == "twice":
            _open(partner, entry)
        elif case == "no_reason":
            reason = "  "
        before = list(StatementDispute.objects.values_list("id", flat=True))
        with pytest.raises(expected):
            dispute_open(
                statement_id=entry.statement_id,
                entry_id=entry.pk,
                partner_id=partner_id,
                reason=reason,
                actor=PARTNER_USER,
            )
        assert list(StatementDispute.objects.values_list("id", flat=True)) == before


def test_resolving_twice_is_refused(vendor_a):
    with schema_context(vendor_a.schema):
        partner = PartnerFactory()
        dispute = _open(partner, post(partner, "2026-10", "40.00"))
        dispute_resolve(dispute_id=dispute.pk, uphold=False, actor=FINANCE)
        with pytest.raises(DisputeError):
            dispute_resolve(
                dispute_id=dispute.pk, uphold=True, corrected_amount=D("1.00"), actor=FINANCE
            )
        assert not LedgerEntry.objects.filter(kind=EntryKind.ADJUSTMENT).exists()


@pytest.mark.parametrize("corrected", ["NaN", "Infinity", "-Infinity", "1e15", "12.345"])
def test_upholding_with_an_impossible_amount_is_refused_and_changes_nothing(vendor_a, corrected):
    with schema_context(vendor_a.schema):
        partner = PartnerFactory()
        dispute = _open(partner, post(partner, "2026-10", "40.00"))
        with pytest.raises(DisputeError) as refused:
            dispute_resolve(
                dispute_id=dispute.pk, uphold=True, corrected_amount=D(corrected), actor=FINANCE
            )
        assert refused.value.field == "corrected_amount"
        dispute.refresh_from_db()
        assert dispute.status == "open"
        assert not LedgerEntry.objects.filter(kind=EntryKind.ADJUSTMENT).exists()
