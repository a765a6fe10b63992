"""The seeded demo vendor, once per test module: seeded inside a transaction that is rolled back
when the module is done (each test's own `db` transaction is a savepoint inside it), so the demo
schema and rows are gone again afterwards, as in tests/ops/test_seed_demo.py."""

from __future__ import annotations

import datetime
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django_tenants.utils import tenant_context

from billing.closing.rate import previous_month, vendor_today
from tenancy.models import Vendor


def seed() -> str:
    out = StringIO()
    call_command("seed_demo", "--port", "8123", stdout=out)
    return out.getvalue()


@pytest.fixture(scope="module")
def acme(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        outer = transaction.atomic()
        outer.__enter__()
        try:
            output = seed()
            connection.set_schema_to_public()
            assert output.splitlines()[0] == "Demo data: created 8 object(s)."
            yield Vendor.objects.get(slug="acme")
        finally:
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)
            connection.set_schema_to_public()


@pytest.fixture
def months(acme) -> list[datetime.date]:
    """The three demo months: two before the current one, and the current one."""
    with tenant_context(acme):
        current = vendor_today().replace(day=1)
    last = previous_month(current)
    return [previous_month(last), last, current]
