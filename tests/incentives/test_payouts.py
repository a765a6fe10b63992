"""incentives.services.payouts against a local fake of Stripe Connect (tests/incentives/
fake_connect.py, which like localstripe ignores idempotency keys): exactly one transfer per payout
however the job is interrupted after Stripe accepted the transfer, also "more than 24 hours
later"; refusals fail the payout and give the amount back to the partner's balance."""

from __future__ import annotations

import pytest
import stripe
from django.core import mail
from django_tenants.utils import schema_context

from core.actors import Actor
from incentives import stripe_connect
from incentives.models import (
    EntryKind,
    LedgerEntry,
    Payout,
    PayoutMethod,
    PayoutProfile,
    PayoutStatus,
    StatementStatus,
)
from incentives.services import payouts as payouts_service
from incentives.services.payouts import payout_execute, payout_record_manual
from incentives.services.statements import statement_approve
from incentives.tasks import execute_payout
from tests.factories import PartnerFactory, UserFactory

from .fake_connect import FakeConnect
from .statement_support import D, check_ledger, post, statement_of

pytestmark = pytest.mark.django_db

FINANCE = Actor.system("finance@vendor.example")


class Interrupted(Exception):
    """The worker died here."""


@pytest.fixture
def fake(settings):
    server = FakeConnect().start()
    settings.PAYOUTS_STRIPE_SECRET_KEY = "sk_test_payouts"
    settings.STRIPE_CONNECT_API_BASE = server.url
    yield server
    server.stop()


@pytest.fixture
def paid_events(monkeypatch):
    seen: list[int] = []
    real = payouts_service.publish

    def record(kind, **data):
        real(kind, **data)
        seen.append(data["payout_id"])

    monkeypatch.setattr(payouts_service, "publish", record)
    return seen


def _transfer_payout(fake, amount="123.45", account="acct_msp1"):
    partner = PartnerFactory()
    fake.add_account(account)
    PayoutProfile.objects.create(
        partner=partner, method=PayoutMethod.STRIPE_TRANSFER, stripe_account_id=account
    )
    post(partner, "2026-10", amount)
    statement = statement_approve(statement_id=statement_of(partner, "2026-10").pk, actor=FINANCE)
    return partner, Payout.objects.get(statement=statement)


def _assert_paid_once(fake, payout, partner, vendor, paid_events):
    payout.refresh_from_db()
    transfers = fake.transfers_of(payout.transfer_group)
    assert len(transfers) == 1
    transfer = transfers[0]
    assert (transfer["amount"], transfer["currency"], transfer["destination"]) == (
        12345,
        "eur",
        "acct_msp1",
    )
    assert transfer["metadata"] == {"payout_id": str(payout.pk), "tenant": vendor.schema}
    assert (payout.status, payout.stripe_transfer_id) == (PayoutStatus.PAID, transfer["id"])
    assert payout.statement.status == StatementStatus.PAID
    assert paid_events == [payout.pk]
    assert not LedgerEntry.objects.filter(kind=EntryKind.PAYOUT_REVERSAL).exists()
    check_ledger(partner)


def test_a_transfer_payout_is_sent_once(vendor_a, fake, paid_events):
    with schema_context(vendor_a.schema):
        partner, payout = _transfer_payout(fake)
        execute_payout.run(payout.pk)
        payout.refresh_from_db()
        assert payout.attempts == 1
        _assert_paid_once(fake, payout, partner, vendor_a, paid_events)
        # Run again (a duplicate task): nothing more happens.
        payout_execute(payout_id=payout.pk)
        assert len(fake.transfers) == 1
        assert ("GET", "/v1/transfers") in fake.requests  # it looked before creating


def _crash_after_create(monkeypatch):
    real = stripe_connect.create_transfer

    def create_then_crash(*args, **kwargs):
        real(*args, **kwargs)
        raise Interrupted("connection lost after Stripe accepted the transfer")

    monkeypatch.setattr(stripe_connect, "create_transfer", create_then_crash)


def _crash_before_recording(monkeypatch):
    def crash(*args, **kwargs):
        raise Interrupted("before recording")

    monkeypatch.setattr(payouts_service, "_record", crash)


def _crash_before_commit(monkeypatch):
    real = payouts_service.audit_record

    def crash(**kwargs):
        real(**kwargs)
        if kwargs["action"] == "payout.paid":
            raise Interrupted("before commit")

    monkeypatch.setattr(payouts_service, "audit_record", crash)


def _crash_before_publishing(monkeypatch):
    def crash(kind, **data):
        raise Interrupted("before publishing")

    monkeypatch.setattr(payouts_service, "publish", crash)


def _crash_marking_the_statement(monkeypatch):
    def crash(payout):
        raise Interrupted("marking the statement paid")

    monkeypatch.setattr(payouts_service, "_statement_paid", crash)


INTERRUPTIONS = {
    "after_create": _crash_after_create,
    "before_recording": _crash_before_recording,
    "before_commit": _crash_before_commit,
    "before_publishing": _crash_before_publishing,
    "marking_statement": _crash_marking_the_statement,
}


@pytest.mark.parametrize("where", sorted(INTERRUPTIONS))
def test_interrupted_after_stripe_accepted_rerun_sends_nothing_more(
    vendor_a, fake, paid_events, monkeypatch, where
):
    with schema_context(vendor_a.schema):
        partner, payout = _transfer_payout(fake)
        with monkeypatch.context() as patch:
            INTERRUPTIONS[where](patch)
            with pytest.raises(Interrupted):
                payout_execute(payout_id=payout.pk)
        payout.refresh_from_db()
        assert payout.status == PayoutStatus.SENDING  # the claim was committed first
        assert len(fake.transfers) == 1
        del paid_events[:]

        payout_execute(payout_id=payout.pk)  # the re-run (the beat job, or a redelivery)
        payout.refresh_from_db()
        assert payout.attempts == 2
        _assert_paid_once(fake, payout, partner, vendor_a, paid_events)


def test_interrupted_again_and_again_still_one_transfer(vendor_a, fake, paid_events, monkeypatch):
    """Several crashes in a row, each at a different place, then a clean run."""
    with schema_context(vendor_a.schema):
        partner, payout = _transfer_payout(fake)
        for where in sorted(INTERRUPTIONS):
            with monkeypatch.context() as patch:
                INTERRUPTIONS[where](patch)
                with pytest.raises(Interrupted):
                    payout_execute(payout_id=payout.pk)
        del paid_events[:]
        payout_execute(payout_id=payout.pk)
        payout.refresh_from_db()
        assert payout.attempts == len(INTERRUPTIONS) + 1
        _assert_paid_once(fake, payout, partner, vendor_a, paid_events)


def test_more_than_24_hours_later_the_transfer_group_still_finds_it(
    vendor_a, fake, paid_events, monkeypatch
):
    """Stripe forgets an idempotency key after 24 hours (the fake never honours them): a rerun
    that relied on the key would send a second transfer. The lookup by transfer group does not."""
    with schema_context(vendor_a.schema):
        partner, payout = _transfer_payout(fake)
        with monkeypatch.context() as patch:
            _crash_after_create(patch)
            with pytest.raises(Interrupted):
                payout_execute(payout_id=payout.pk)
        # Time passes: the worker died for good; the beat job picks it up "a day later".
        Payout.objects.filter(pk=payout.pk).update(
            created_at=payout.created_at - __import__("datetime").timedelta(hours=25)
        )
        assert payouts_service.payouts_to_resume() == [payout.pk]
        del paid_events[:]
        payout_execute(payout_id=payout.pk)
        _assert_paid_once(fake, payout, partner, vendor_a, paid_events)
        assert payouts_service.payouts_to_resume() == []


def test_without_the_lookup_the_fake_would_send_twice(vendor_a, fake, monkeypatch):
    """The fake really ignores idempotency keys (so the test above can fail)."""
    with schema_context(vendor_a.schema):
        _, payout = _transfer_payout(fake)
        monkeypatch.setattr(stripe_connect, "find_transfer", lambda client, **kw: None)
        client = stripe_connect.connect_client()
        for _ in range(2):
            stripe_connect.create_transfer(
                client,
                amount_minor=100,
                currency="EUR",
                destination="acct_msp1",
                transfer_group=payout.transfer_group,
                metadata={},
                idempotency_key=payout.transfer_group,
            )
        assert len(fake.transfers_of(payout.transfer_group)) == 2


def test_a_refused_transfer_fails_and_returns_the_amount(
    vendor_a, fake, paid_events, settings, django_capture_on_commit_callbacks
):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    with schema_context(vendor_a.schema):
        UserFactory(vendor_role="finance", email="finance@vendor.example")
        partner, payout = _transfer_payout(fake)
        fake.accounts.clear()  # the connected account is gone
        with django_capture_on_commit_callbacks(execute=True):
            payout_execute(payout_id=payout.pk)
        payout.refresh_from_db()
        assert payout.status == PayoutStatus.FAILED
        # Finance and admins (the vendor's first admin exists in every test tenant).
        assert [(m.subject, sorted(m.to)) for m in mail.outbox] == [
            (
                f"Commission payout {payout.pk} failed",
                [vendor_a.admin_email, "finance@vendor.example"],
            )
        ]
        assert "No such destination" in payout.failure
        assert fake.transfers == []
        reversal = LedgerEntry.objects.get(kind=EntryKind.PAYOUT_REVERSAL)
        assert (reversal.amount, reversal.statement.month.month) == (D("123.45"), 11)
        november = statement_of(partner, "2026-11")
        assert (november.adjustments, november.payable) == (D("123.45"), D("123.45"))
        assert payout.statement.status == StatementStatus.APPROVED
        assert paid_events == []
        check_ledger(partner)
        # Re-running a failed payout does nothing.
        payout_execute(payout_id=payout.pk)
        assert LedgerEntry.objects.filter(kind=EntryKind.PAYOUT_REVERSAL).count() == 1


def test_network_errors_leave_it_sending_for_the_next_run(vendor_a, fake, monkeypatch):
    with schema_context(vendor_a.schema):
        partner, payout = _transfer_payout(fake)

        def unreachable(*args, **kwargs):
            raise stripe.APIConnectionError("Network down")

        with monkeypatch.context() as patch:
            patch.setattr(stripe_connect, "find_transfer", unreachable)
            with pytest.raises(stripe.APIConnectionError):
                payout_execute(payout_id=payout.pk)
        payout.refresh_from_db()
        assert payout.status == PayoutStatus.SENDING
        payout_execute(payout_id=payout.pk)
        payout.refresh_from_db()
        assert payout.status == PayoutStatus.PAID
        assert len(fake.transfers) == 1
        check_ledger(partner)


def test_without_stripe_keys_finance_records_the_transfer(vendor_a, settings):
    settings.PAYOUTS_STRIPE_SECRET_KEY = ""
    with schema_context(vendor_a.schema):
        partner = PartnerFactory()
        PayoutProfile.objects.create(
            partner=partner, method=PayoutMethod.STRIPE_TRANSFER, stripe_account_id="acct_9"
        )
        post(partner, "2026-10", "10.00")
        statement_approve(statement_id=statement_of(partner, "2026-10").pk, actor=FINANCE)
        payout = Payout.objects.get()
        payout_execute(payout_id=payout.pk)
        payout.refresh_from_db()
        assert payout.status == PayoutStatus.PENDING
        payout_record_manual(payout_id=payout.pk, reference="SEPA-2026-11-01", actor=FINANCE)
        payout.refresh_from_db()
        assert (payout.status, payout.stripe_transfer_id) == (
            PayoutStatus.PAID,
            "SEPA-2026-11-01",
        )
        check_ledger(partner)


def test_an_invoice_credit_payout_waits_for_the_next_invoice(vendor_a):
    with schema_context(vendor_a.schema):
        partner = PartnerFactory()
        post(partner, "2026-10", "10.00")
        statement_approve(statement_id=statement_of(partner, "2026-10").pk, actor=FINANCE)
        payout = Payout.objects.get()
        payout_execute(payout_id=payout.pk)
        payout.refresh_from_db()
        assert payout.status == PayoutStatus.APPLIED
        payout_execute(payout_id=payout.pk)
        payout.refresh_from_db()
        assert payout.status == PayoutStatus.APPLIED
