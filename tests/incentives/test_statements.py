"""incentives.services.statements: approval freezes the figures, creates exactly one payout (or
carries the balance forward below the plan's minimum), posts the payout to the ledger, publishes
statement.approved and dispatches the payout job on commit; bulk approval; refusals change
nothing."""

from __future__ import annotations

import pytest
from django_tenants.utils import schema_context

from core.actors import Actor
from core.models import AuditEntry
from incentives.errors import StatementStateError
from incentives.models import (
    CommissionPlan,
    EntryKind,
    LedgerEntry,
    Payout,
    PayoutMethod,
    PayoutProfile,
    PayoutStatus,
    Statement,
    StatementStatus,
)
from incentives.services import statements as statements_service
from incentives.services.statements import statement_approve, statements_approve
from tests.factories import PartnerFactory

from .statement_support import D, check_ledger, month, post, statement_of

pytestmark = pytest.mark.django_db

FINANCE = Actor.system("finance@vendor.example")


@pytest.fixture
def events(monkeypatch):
    seen: list[tuple[str, dict]] = []
    monkeypatch.setattr(
        statements_service, "publish", lambda kind, **data: seen.append((kind, data))
    )
    return seen


def test_approve_freezes_figures_and_creates_one_payout(
    vendor_a, events, django_capture_on_commit_callbacks, monkeypatch
):
    dispatched = []
    monkeypatch.setattr(statements_service, "_dispatch_payout", dispatched.append)
    with schema_context(vendor_a.schema):
        partner = PartnerFactory()
        post(partner, "2026-10", "100.00")
        post(partner, "2026-10", "50.25")
        post(partner, "2026-10", "20.00", kind=EntryKind.GROWTH_BONUS)
        post(partner, "2026-10", "-30.10", kind=EntryKind.CLAWBACK)
        statement = statement_of(partner, "2026-10")
        assert statement.payable == D("140.15")

        with django_capture_on_commit_callbacks(execute=True):
            statement_approve(statement_id=statement.pk, actor=FINANCE)

        statement.refresh_from_db()
        assert statement.status == StatementStatus.APPROVED
        assert (statement.opening_balance, statement.accrued, statement.bonuses) == (
            D("0"),
            D("150.25"),
            D("20.00"),
        )
        assert (statement.clawbacks, statement.held) == (D("-30.10"), D("0"))
        assert (statement.payable, statement.carried_forward) == (D("140.15"), D("0"))
        assert statement.approved_by_label == FINANCE.label
        payout = Payout.objects.get(statement=statement)
        assert (payout.amount, payout.method, payout.status, payout.currency) == (
            D("140.15"),
            PayoutMethod.INVOICE_CREDIT,
            PayoutStatus.PENDING,
            "EUR",
        )
        assert payout.transfer_group == f"payout-{vendor_a.schema}-{statement.pk}"
        entry = LedgerEntry.objects.get(kind=EntryKind.PAYOUT)
        assert (entry.amount, entry.statement_id, entry.payout_id) == (
            D("-140.15"),
            statement.pk,
            payout.pk,
        )
        assert events == [("statement.approved", {"statement_id": statement.pk})]
        assert dispatched == [payout.pk]
        assert AuditEntry.objects.filter(action="statement.approved").count() == 1
        check_ledger(partner)

        # Entries that arrive later go to the next draft, which opens with 0.
        post(partner, "2026-10", "10.00")
        later = statement_of(partner, "2026-11")
        assert (later.opening_balance, later.accrued, later.payable) == (
            D("0"),
            D("10.00"),
            D("10.00"),
        )
        statement.refresh_from_db()
        assert statement.accrued == D("150.25")
        check_ledger(partner)


def test_payout_method_comes_from_the_profile(vendor_a, events):
    with schema_context(vendor_a.schema):
        partner = PartnerFactory()
        PayoutProfile.objects.create(
            partner=partner, method=PayoutMethod.STRIPE_TRANSFER, stripe_account_id="acct_1"
        )
        post(partner, "2026-10", "12.00")
        statement = statement_approve(
            statement_id=statement_of(partner, "2026-10").pk, actor=FINANCE
        )
        assert statement.payout.method == PayoutMethod.STRIPE_TRANSFER


def test_below_the_minimum_the_balance_is_carried_forward(vendor_a, events):
    with schema_context(vendor_a.schema):
        CommissionPlan.objects.create(
            name="Plan", basis="billed", effective_from=month("2026-01"), minimum_payout=D("100")
        )
        partner = PartnerFactory()
        post(partner, "2026-10", "60.00")
        october = statement_approve(statement_id=statement_of(partner, "2026-10").pk, actor=FINANCE)
        assert october.status == StatementStatus.APPROVED
        assert (october.payable, october.carried_forward) == (D("0"), D("60.00"))
        assert not Payout.objects.exists()
        assert not LedgerEntry.objects.filter(kind=EntryKind.PAYOUT).exists()

        post(partner, "2026-11", "40.00")
        november = statement_of(partner, "2026-11")
        assert (november.opening_balance, november.payable) == (D("60.00"), D("100.00"))
        statement_approve(statement_id=november.pk, actor=FINANCE)
        november.refresh_from_db()
        assert (november.payable, november.carried_forward) == (D("100.00"), D("0"))
        assert Payout.objects.get().amount == D("100.00")
        check_ledger(partner)


def test_the_plan_in_force_for_the_month_sets_the_minimum(vendor_a, events):
    with schema_context(vendor_a.schema):
        CommissionPlan.objects.create(
            name="Old", basis="billed", effective_from=month("2026-01"), minimum_payout=D("10")
        )
        CommissionPlan.objects.create(
            name="New", basis="billed", effective_from=month("2026-11"), minimum_payout=D("500")
        )
        partner = PartnerFactory()
        post(partner, "2026-10", "50.00")
        statement_approve(statement_id=statement_of(partner, "2026-10").pk, actor=FINANCE)
        assert Payout.objects.get().amount == D("50.00")  # October: the old plan's 10


def test_a_negative_balance_is_carried_forward(vendor_a, events):
    with schema_context(vendor_a.schema):
        partner = PartnerFactory()
        post(partner, "2026-10", "-25.00", kind=EntryKind.CLAWBACK)
        statement = statement_approve(
            statement_id=statement_of(partner, "2026-10").pk, actor=FINANCE
        )
        assert (statement.status, statement.payable, statement.carried_forward) == (
            StatementStatus.APPROVED,
            D("0"),
            D("-25.00"),
        )
        post(partner, "2026-11", "40.00")
        assert statement_of(partner, "2026-11").payable == D("15.00")
        check_ledger(partner)


def test_an_empty_statement_is_approved_straight_to_paid(vendor_a, events):
    with schema_context(vendor_a.schema):
        partner = PartnerFactory()
        post(partner, "2026-10", "0.00")
        statement = statement_approve(
            statement_id=statement_of(partner, "2026-10").pk, actor=FINANCE
        )
        assert statement.status == StatementStatus.PAID
        assert not Payout.objects.exists()
        assert events == [("statement.approved", {"statement_id": statement.pk})]


def test_approving_twice_is_refused_and_changes_nothing(vendor_a, events):
    with schema_context(vendor_a.schema):
        partner = PartnerFactory()
        post(partner, "2026-10", "10.00")
        statement = statement_approve(
            statement_id=statement_of(partner, "2026-10").pk, actor=FINANCE
        )
        with pytest.raises(StatementStateError):
            statement_approve(statement_id=statement.pk, actor=FINANCE)
        assert Payout.objects.count() == 1
        assert LedgerEntry.objects.filter(kind=EntryKind.PAYOUT).count() == 1
        assert AuditEntry.objects.filter(action="statement.approved").count() == 1


def test_an_earlier_draft_must_be_approved_first(vendor_a, events):
    with schema_context(vendor_a.schema):
        partner = PartnerFactory()
        post(partner, "2026-10", "10.00")
        post(partner, "2026-11", "20.00")
        november = statement_of(partner, "2026-11")
        with pytest.raises(StatementStateError, match="October 2026"):
            statement_approve(statement_id=november.pk, actor=FINANCE)
        november.refresh_from_db()
        assert november.status == StatementStatus.DRAFT
        assert not Payout.objects.exists()
        assert events == []


def test_bulk_approval_in_month_order_skips_what_is_not_a_draft(vendor_a, events):
    with schema_context(vendor_a.schema):
        alpha, bravo, charlie = PartnerFactory(), PartnerFactory(), PartnerFactory()
        post(alpha, "2026-10", "10.00")
        post(alpha, "2026-11", "20.00")
        post(bravo, "2026-10", "30.00")
        post(charlie, "2026-11", "40.00")
        post(charlie, "2026-10", "5.00")
        done = statement_approve(statement_id=statement_of(charlie, "2026-10").pk, actor=FINANCE)
        ids = [
            statement_of(alpha, "2026-11").pk,  # after alpha's October, in the same run
            statement_of(alpha, "2026-10").pk,
            statement_of(bravo, "2026-10").pk,
            done.pk,
            statement_of(charlie, "2026-11").pk,
        ]
        result = statements_approve(statement_ids=ids, actor=FINANCE)
        assert [(s.partner_id, s.month) for s in result.approved] == [
            (alpha.pk, month("2026-10")),
            (bravo.pk, month("2026-10")),
            (alpha.pk, month("2026-11")),
            (charlie.pk, month("2026-11")),
        ]
        assert [(s.pk, reason) for s, reason in result.skipped] == [(done.pk, "not a draft")]
        amounts = sorted(Payout.objects.values_list("amount", flat=True))
        assert amounts == [D("5.00"), D("10.00"), D("20.00"), D("30.00"), D("40.00")]
        for partner in (alpha, bravo, charlie):
            check_ledger(partner)


def test_bulk_approval_skips_a_statement_whose_earlier_one_is_left_out(vendor_a, events):
    with schema_context(vendor_a.schema):
        alpha, bravo = PartnerFactory(), PartnerFactory()
        post(alpha, "2026-10", "10.00")
        post(alpha, "2026-11", "20.00")
        post(bravo, "2026-11", "30.00")
        result = statements_approve(
            statement_ids=[statement_of(alpha, "2026-11").pk, statement_of(bravo, "2026-11").pk],
            actor=FINANCE,
        )
        assert [s.partner_id for s in result.approved] == [bravo.pk]
        assert [(s.partner_id, "October 2026" in why) for s, why in result.skipped] == [
            (alpha.pk, True)
        ]
        assert statement_of(alpha, "2026-11").status == StatementStatus.DRAFT
        assert Payout.objects.get().partner_id == bravo.pk


def test_webhook_payloads(vendor_a, events):
    from incentives.webhook_payloads import payout_paid, statement_approved

    with schema_context(vendor_a.schema):
        partner = PartnerFactory()
        post(partner, "2026-10", "12.50")
        statement = statement_approve(
            statement_id=statement_of(partner, "2026-10").pk, actor=FINANCE
        )
        [data] = statement_approved(statement_id=statement.pk)
        assert (data["id"], data["month"], data["status"], data["payable"]) == (
            statement.pk,
            "2026-10",
            "approved",
            "12.50",
        )
        assert "entries" not in data
        assert (data["payout"]["amount"], data["payout"]["status"]) == ("12.50", "pending")
        [paid] = payout_paid(payout_id=statement.payout.pk)
        assert (paid["statement"], paid["amount"]) == (statement.pk, "12.50")


def test_an_entry_of_a_month_before_the_latest_approved_statement_goes_to_the_next_draft(
    vendor_a, events
):
    """The balance chains month to month: a late entry of September, after October was
    approved, lands on November's draft — never on a new September draft behind October."""
    with schema_context(vendor_a.schema):
        partner = PartnerFactory()
        post(partner, "2026-10", "60.00")
        statement_approve(statement_id=statement_of(partner, "2026-10").pk, actor=FINANCE)
        late = post(partner, "2026-09", "15.00")
        assert not Statement.objects.filter(partner=partner, month=month("2026-09")).exists()
        november = statement_of(partner, "2026-11")
        assert late.statement_id == november.pk
        assert (november.status, november.accrued) == (StatementStatus.DRAFT, D("15.00"))
        check_ledger(partner)
