"""Exactly once with a real Celery worker: the accrual task sent twice posts each entry once;
a worker killed (SIGKILL) in the middle of the accrual leaves nothing, and sending the task again
posts the entries of one clean run. Everything is committed, in a vendor of its own dropped at
the end. The accrual is slowed by a statement trigger on the ledger (its insert sleeps), so the
kill lands inside the task's transaction; no production code knows about it."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest
from django.db import connection
from django_tenants.utils import schema_context

from billing.models import BillingPeriod
from core.actors import Actor
from incentives.models import LedgerEntry, Statement
from incentives.tasks import accrue_period
from tenancy.models import Domain, Vendor
from tenancy.services import schema_name_for, vendor_create
from tests.celery_worker import start_worker
from tests.committed import committed

from .accrual_support import World

pytestmark = [pytest.mark.worker, pytest.mark.django_db]

ACTOR = Actor.system("accrual worker tests")
SLUG = "accrual-kill"
WAIT = 60.0
D = Decimal


def _seed() -> tuple[str, int]:
    vendor = vendor_create(
        name="Accrual Kill",
        slug=SLUG,
        domain=f"{SLUG}.localhost",
        timezone="UTC",
        currency="EUR",
        actor=ACTOR,
    )
    with schema_context(vendor.schema_name):
        world = World()
        world.plan()
        invoice = world.october()
        return vendor.schema_name, invoice.period_id


def _drop(schema: str) -> None:
    connection.set_schema_to_public()
    Domain.objects.filter(tenant__slug=SLUG).delete()
    Vendor.objects.filter(slug=SLUG).delete()
    with connection.cursor() as cursor:
        cursor.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def _in(schema: str, fn, *args):
    def run():
        with schema_context(schema):
            return fn(*args)

    return committed(run)


def _send(period_id: int) -> None:
    accrue_period.delay(period_id)  # carries the schema (tenant-schemas-celery)


def _ledger() -> list[tuple]:
    return sorted(LedgerEntry.objects.values_list("source_key", "kind", "amount"))


def _figures() -> list[tuple]:
    return list(Statement.objects.values_list("month", "accrued", "carried_forward"))


def _slow(on: bool) -> None:
    with connection.cursor() as cursor:
        if on:
            cursor.execute(
                "CREATE FUNCTION slow_ledger() RETURNS trigger LANGUAGE plpgsql AS "
                "$$ BEGIN PERFORM pg_sleep(1.5); RETURN NULL; END $$"
            )
            cursor.execute(
                "CREATE TRIGGER slow_ledger AFTER INSERT ON incentives_ledgerentry "
                "FOR EACH STATEMENT EXECUTE FUNCTION slow_ledger()"
            )
        else:
            cursor.execute("DROP TRIGGER slow_ledger ON incentives_ledgerentry")


def _busy(period_id: int) -> bool:
    """The task's insert is running (sleeping in the trigger)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE query LIKE %s AND state = 'active' "
            "AND pid <> pg_backend_pid()",
            ["%INSERT INTO incentives_ledgerentry%"],
        )
        return cursor.fetchone()[0] > 0


def _wait(what: str, check) -> None:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}")


@pytest.fixture
def kill_world():
    committed(_drop, schema_name_for(SLUG))  # leftovers of an aborted run
    schema, period_id = committed(_seed)
    yield schema, period_id
    committed(_drop, schema)


def test_sent_twice_posts_once_and_a_killed_run_leaves_nothing(kill_world):
    schema, period_id = kill_world
    _in(schema, _slow, True)
    first = start_worker("accrual-kill")
    try:
        _in(schema, _send, period_id)
        _wait("the accrual's insert", lambda: committed(_busy, period_id))
        first.kill()  # inside the task's transaction: nothing of it commits
    finally:
        first.stop()
        first.cleanup()
    # The killed worker's backend ends once its sleeping insert returns (pg_stat_activity is
    # read once per transaction of this test's connection: look only after that).
    time.sleep(2.0)
    assert first.wait_for_no_connections() == 0
    assert _in(schema, _ledger) == []
    _in(schema, _slow, False)

    second = start_worker("accrual-kill-2", purge=False)
    try:
        # Sent again, twice: one clean run's entries, once.
        _in(schema, _send, period_id)
        _in(schema, _send, period_id)
        _wait("two entries", lambda: len(_in(schema, _ledger)) == 2)
        time.sleep(1.0)  # the second task has run (or is about to) and must add nothing
        _in(schema, _send, period_id)
        time.sleep(1.0)
    finally:
        second.stop()
        second.cleanup()
    ledger = _in(schema, _ledger)
    assert sorted((kind, amount) for _, kind, amount in ledger) == [
        ("accrual", D("6.12")),
        ("accrual", D("28.35")),
    ]
    assert _in(schema, _figures)[0][1:] == (D("34.47"), D("34.47"))
    assert _in(schema, lambda: BillingPeriod.objects.count()) == 1
