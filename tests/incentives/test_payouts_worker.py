"""The payout job on a real Celery worker: approval dispatches it on commit; a worker killed
(SIGKILL) after the fake Stripe accepted the transfer but before it answered leaves the payout
`sending`; the next run on a fresh worker adopts that transfer — one transfer, ledger balanced.

Everything is committed (the worker only sees committed rows), in a vendor of its own that is
dropped at the end."""

from __future__ import annotations

import time

import pytest
from django.db import connection
from django_tenants.utils import schema_context

from core.actors import Actor
from incentives.models import Payout, PayoutMethod, PayoutProfile, PayoutStatus
from incentives.services.statements import statement_approve
from incentives.tasks import execute_payout
from tenancy.models import Domain, Vendor
from tenancy.services import schema_name_for, vendor_create
from tests.celery_worker import start_worker
from tests.committed import committed
from tests.factories import PartnerFactory

from .fake_connect import FakeConnect
from .statement_support import check_ledger, post, statement_of

pytestmark = [pytest.mark.worker, pytest.mark.django_db]

ACTOR = Actor.system("payout worker tests")
SLUG = "payout-kill"
WAIT = 60.0


def _drop(schema: str) -> None:
    connection.set_schema_to_public()
    Domain.objects.filter(tenant__slug=SLUG).delete()
    Vendor.objects.filter(slug=SLUG).delete()
    with connection.cursor() as cursor:
        cursor.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def _seed() -> tuple[str, int]:
    vendor = vendor_create(
        name="Payout Kill",
        slug=SLUG,
        domain=f"{SLUG}.localhost",
        timezone="UTC",
        currency="EUR",
        actor=ACTOR,
    )
    with schema_context(vendor.schema_name):
        partner = PartnerFactory(name="Alpha IT")
        PayoutProfile.objects.create(
            partner=partner, method=PayoutMethod.STRIPE_TRANSFER, stripe_account_id="acct_kill"
        )
        post(partner, "2026-10", "250.00")
    return vendor.schema_name, partner.pk


def _in(schema: str, fn, *args):
    def run():
        with schema_context(schema):
            return fn(*args)

    return committed(run)


def _approve(partner_id: int) -> int:
    from partners.models import Partner

    statement = statement_of(Partner.objects.get(pk=partner_id), "2026-10")
    statement_approve(statement_id=statement.pk, actor=ACTOR)  # dispatches the job on commit
    return Payout.objects.get(statement=statement).pk


def _payout(payout_id: int) -> tuple[str, int, str]:
    payout = Payout.objects.get(pk=payout_id)
    return payout.status, payout.attempts, payout.stripe_transfer_id


def _check(partner_id: int) -> None:
    from partners.models import Partner

    check_ledger(Partner.objects.get(pk=partner_id))


@pytest.fixture
def fake(monkeypatch):
    server = FakeConnect().start()
    server.add_account("acct_kill")
    # The worker process reads its settings from the environment.
    monkeypatch.setenv("PAYOUTS_STRIPE_SECRET_KEY", "sk_test_worker")
    monkeypatch.setenv("STRIPE_CONNECT_API_BASE", server.url)
    yield server
    server.stop()


@pytest.fixture
def world():
    committed(_drop, schema_name_for(SLUG))  # leftovers of an aborted run
    schema, partner_id = committed(_seed)
    yield schema, partner_id
    committed(_drop, schema)


def _wait(schema, payout_id, predicate, what):
    deadline = time.monotonic() + WAIT
    state = None
    while time.monotonic() < deadline:
        state = _in(schema, _payout, payout_id)
        if predicate(state):
            return state
        time.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}; last state {state}")


def test_killed_after_stripe_accepted_then_rerun_sends_one_transfer(world, fake):
    schema, partner_id = world
    fake.answer_delay = 30.0  # the worker waits for the answer: kill it then
    first = start_worker("payout-kill")
    try:
        payout_id = _in(schema, _approve, partner_id)
        assert fake.accepted.wait(WAIT), "the transfer never reached the fake"
        first.kill()
    finally:
        first.stop()
        first.cleanup()
    assert first.wait_for_no_connections() == 0
    status, attempts, transfer_id = _in(schema, _payout, payout_id)
    assert (status, attempts, transfer_id) == (PayoutStatus.SENDING, 1, "")
    assert len(fake.transfers) == 1

    fake.answer_delay = 0.0
    second = start_worker("payout-kill-2", purge=False)
    try:
        # What the beat job does for a payout left sending.
        _in(schema, execute_payout.delay, payout_id)
        status, attempts, transfer_id = _wait(
            schema, payout_id, lambda s: s[0] == PayoutStatus.PAID, "the payout to be paid"
        )
    finally:
        second.stop()
        second.cleanup()
    assert attempts == 2
    assert [t["id"] for t in fake.transfers] == [transfer_id]
    assert fake.transfers[0]["metadata"] == {"payout_id": str(payout_id), "tenant": schema}
    _in(schema, _check, partner_id)
