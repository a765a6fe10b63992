"""Our database backend issues `SET search_path` once per tenant switch, and never trusts a value
PostgreSQL has already thrown away (a rollback, or a rollback to a savepoint, reverts a `SET`)."""

from __future__ import annotations

import copy

import pytest
from django.db import connection, connections, transaction
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import schema_context

from accounts.models import User
from tenancy import middleware as routing

pytestmark = pytest.mark.django_db

KEYS_URL = "/api/v1/api-keys/"


def search_path_statements(queries) -> list[str]:
    return [q["sql"] for q in queries if q["sql"].upper().startswith("SET SEARCH_PATH")]


def emails_here() -> list[str]:
    return list(User.objects.order_by("email").values_list("email", flat=True))


def current_schema(conn=connection) -> str:
    with conn.cursor() as cursor:
        cursor.execute("SELECT current_schema()")
        return cursor.fetchone()[0]


def expected_emails(schema: str) -> list[str]:
    with schema_context(schema):
        return emails_here()


# --- one SET per request ------------------------------------------------------------------------


@pytest.fixture
def hot_routing(monkeypatch):
    """Routing entries that cannot expire mid-test, however slow the machine."""
    monkeypatch.setattr(routing, "ROUTING_TTL_SECONDS", 3600.0)


def test_authenticated_api_get_issues_exactly_one_set_search_path(hot_routing, api_a, vendor_a):
    assert api_a.get(KEYS_URL).status_code == 200  # warm-up: routing cache hot, last_used set

    before = connection.search_path_set_count
    with CaptureQueriesContext(connection) as ctx:
        response = api_a.get(KEYS_URL)
    assert response.status_code == 200
    assert connection.search_path_set_count - before == 1
    assert search_path_statements(ctx.captured_queries) == [
        f'SET search_path = "{vendor_a.schema}","public"'
    ]
    # The statement comes first and nothing after it reads the public routing tables.
    assert ctx.captured_queries[0]["sql"].startswith("SET search_path")
    assert len(ctx.captured_queries) > 1
    assert not [q for q in ctx.captured_queries if "tenancy_" in q["sql"]]


def test_cold_routing_cache_reads_the_domain_once_then_never(hot_routing, api_a):
    with CaptureQueriesContext(connection) as cold:
        assert api_a.get(KEYS_URL).status_code == 200
    with CaptureQueriesContext(connection) as warm:
        assert api_a.get(KEYS_URL).status_code == 200
    assert len([q for q in cold.captured_queries if '"tenancy_domain"' in q["sql"]]) == 1
    assert [q for q in warm.captured_queries if '"tenancy_domain"' in q["sql"]] == []


def test_alternating_hosts_each_request_sets_its_own_path_once(
    hot_routing, api_a, api_b, vendor_a, vendor_b
):
    api_a.get(KEYS_URL)
    api_b.get(KEYS_URL)
    for client, schema in [(api_a, vendor_a.schema), (api_b, vendor_b.schema)] * 3:
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(KEYS_URL).status_code == 200
        assert search_path_statements(ctx.captured_queries) == [
            f'SET search_path = "{schema}","public"'
        ]


def test_an_expired_routing_entry_costs_one_lookup_and_two_sets(monkeypatch, api_a, vendor_a):
    api_a.get(KEYS_URL)
    monkeypatch.setattr(routing, "ROUTING_TTL_SECONDS", 0.0)  # every entry is already stale
    with CaptureQueriesContext(connection) as ctx:
        assert api_a.get(KEYS_URL).status_code == 200
    assert search_path_statements(ctx.captured_queries) == [
        'SET search_path = "public"',
        f'SET search_path = "{vendor_a.schema}","public"',
    ]
    assert len([q for q in ctx.captured_queries if '"tenancy_domain"' in q["sql"]]) == 1


def test_queries_after_a_switch_reuse_the_path(vendor_a):
    connection.set_tenant(vendor_a.vendor)
    before = connection.search_path_set_count
    for _ in range(5):
        emails_here()
    assert connection.search_path_set_count - before == 1
    connection.set_tenant(vendor_a.vendor)  # a switch, even to the same tenant, sets it again
    emails_here()
    assert connection.search_path_set_count - before == 2


# --- correctness after rollbacks ----------------------------------------------------------------


def test_savepoint_rollback_does_not_leave_the_previous_tenants_path(vendor_a, vendor_b):
    rows_a, rows_b = expected_emails(vendor_a.schema), expected_emails(vendor_b.schema)
    assert rows_a != rows_b

    with transaction.atomic():
        connection.set_tenant(vendor_a.vendor)
        assert emails_here() == rows_a
        savepoint = transaction.savepoint()
        connection.set_tenant(vendor_b.vendor)
        assert emails_here() == rows_b  # SET search_path to B runs inside the savepoint
        transaction.savepoint_rollback(savepoint)  # ...so PostgreSQL is back on A's path
        assert connection.schema_name == vendor_b.schema
        assert current_schema() == vendor_b.schema
        assert emails_here() == rows_b


def test_failed_inner_atomic_block_keeps_the_right_schema(vendor_a, vendor_b):
    rows_a, rows_b = expected_emails(vendor_a.schema), expected_emails(vendor_b.schema)
    connection.set_tenant(vendor_a.vendor)
    assert emails_here() == rows_a
    with pytest.raises(RuntimeError), transaction.atomic():
        connection.set_tenant(vendor_b.vendor)
        assert emails_here() == rows_b
        raise RuntimeError("roll back the block that set B's path")
    assert current_schema() == vendor_b.schema
    assert emails_here() == rows_b


def test_full_rollback_does_not_leave_the_previous_tenants_path(vendor_a, vendor_b):
    """A transaction rolled back on a connection of its own (the test's is inside atomic)."""
    rows_a, rows_b = expected_emails(vendor_a.schema), expected_emails(vendor_b.schema)
    wrapper = type(connections["default"])
    own = wrapper(copy.copy(connection.settings_dict), alias="default")
    try:
        own.set_tenant(vendor_a.vendor)
        assert current_schema(own) == vendor_a.schema  # SET in autocommit: it sticks
        own.set_autocommit(False)
        own.set_tenant(vendor_b.vendor)
        assert current_schema(own) == vendor_b.schema  # SET inside the transaction
        own.rollback()  # PostgreSQL reverts the path to A's
        own.set_autocommit(True)
        assert own.schema_name == vendor_b.schema
        assert current_schema(own) == vendor_b.schema
        with own.cursor() as cursor:
            cursor.execute("SELECT email FROM accounts_user ORDER BY email")
            assert [row[0] for row in cursor.fetchall()] == rows_b
        assert rows_a != rows_b
    finally:
        own.close()
