"""Vendor isolation: credentials, lists, cache entries and host routing never cross tenants.

Each test would fail if isolation broke: it asserts what the other tenant must not see *and* that
the other tenant's rows are exactly as before. (Login and session isolation live with accounts.)
"""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.db import connection
from django_tenants.utils import schema_context

from accounts.models import ApiKey
from core.actors import Actor
from core.api.problems import PROBLEM_CONTENT_TYPE
from core.models import AuditEntry, IdempotencyRecord
from tenancy import middleware as routing
from tenancy.services import vendor_reactivate, vendor_suspend
from tests.conftest import host_client, make_api_key

pytestmark = pytest.mark.django_db

KEYS_URL = "/api/v1/api-keys/"


def tenant_rows(schema: str) -> dict[str, list]:
    """Everything an API call could have written in a vendor's schema."""
    with schema_context(schema):
        return {
            "api_keys": list(
                ApiKey.objects.order_by("pk").values_list(
                    "pk", "name", "key_hash", "last_used_at", "revoked_at"
                )
            ),
            "audit": list(AuditEntry.objects.order_by("pk").values_list("pk", "action")),
            "idempotency": list(IdempotencyRecord.objects.values_list("pk", flat=True)),
        }


def key_names(response) -> set[str]:
    assert response.status_code == 200, response.content
    return {row["name"] for row in response.json()["results"]}


# --- API keys across hosts ----------------------------------------------------------------------


def test_key_of_vendor_a_on_vendor_b_host_is_401_and_changes_nothing(vendor_a, vendor_b):
    key_a = make_api_key(vendor_a, name="a-integration")
    make_api_key(vendor_b, name="b-integration")
    before_a, before_b = tenant_rows(vendor_a.schema), tenant_rows(vendor_b.schema)
    on_b = host_client(vendor_b.host, HTTP_AUTHORIZATION=f"Bearer {key_a}")

    listed = on_b.get(KEYS_URL)
    created = on_b.post(
        KEYS_URL,
        {"name": "sneaky"},
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY="cross-tenant-1",
    )

    for response in (listed, created):
        assert response.status_code == 401
        assert response["Content-Type"] == PROBLEM_CONTENT_TYPE
        body = response.json()
        assert body["status"] == 401
        assert body["detail"] == "Invalid or revoked API key."
        assert "b-integration" not in response.content.decode()
    assert tenant_rows(vendor_b.schema) == before_b
    assert tenant_rows(vendor_a.schema) == before_a


def test_key_of_vendor_a_still_works_on_its_own_host(vendor_a):
    key_a = make_api_key(vendor_a, name="a-integration")
    response = host_client(vendor_a.host, HTTP_AUTHORIZATION=f"Bearer {key_a}").get(KEYS_URL)
    assert key_names(response) == {"a-integration"}


def test_api_key_on_the_platform_host_finds_no_api(vendor_a, platform_client):
    key_a = make_api_key(vendor_a, name="a-integration")
    before_a = tenant_rows(vendor_a.schema)
    response = platform_client.get(KEYS_URL, HTTP_AUTHORIZATION=f"Bearer {key_a}")
    # The platform site has no API at all: a problem+json 404, never A's data.
    assert response.status_code == 404
    assert response["Content-Type"] == PROBLEM_CONTENT_TYPE
    assert "a-integration" not in response.content.decode()
    assert tenant_rows(vendor_a.schema) == before_a


def test_lists_show_only_the_callers_vendor_keys(vendor_a, vendor_b):
    key_a = make_api_key(vendor_a, name="a-one")
    make_api_key(vendor_a, name="a-two")
    key_b = make_api_key(vendor_b, name="b-one")
    make_api_key(vendor_b, name="b-two")
    make_api_key(vendor_b, name="b-three")

    on_a = host_client(vendor_a.host, HTTP_AUTHORIZATION=f"Bearer {key_a}")
    on_b = host_client(vendor_b.host, HTTP_AUTHORIZATION=f"Bearer {key_b}")

    assert key_names(on_a.get(KEYS_URL)) == {"a-one", "a-two"}
    assert key_names(on_b.get(KEYS_URL)) == {"b-one", "b-two", "b-three"}
    # Paging through A's list with a tiny page size never reaches B's rows either.
    seen: list[str] = []
    url = f"{KEYS_URL}?limit=1"
    while url:
        page = on_a.get(url)
        assert page.status_code == 200
        seen += [row["name"] for row in page.json()["results"]]
        url = page.json()["next"]
    assert sorted(seen) == ["a-one", "a-two"]


def test_audit_log_lists_only_the_callers_vendor_entries(vendor_a, vendor_b):
    key_a = make_api_key(vendor_a, name="a-one")
    make_api_key(vendor_b, name="b-one")
    with schema_context(vendor_b.schema):
        b_ids = set(AuditEntry.objects.values_list("object_repr", flat=True))
    response = host_client(vendor_a.host, HTTP_AUTHORIZATION=f"Bearer {key_a}").get(
        "/api/v1/audit-events/?action=api_key.created"
    )
    assert response.status_code == 200
    reprs = [row["object_repr"] for row in response.json()["results"]]
    assert len(reprs) == 1 and reprs[0].startswith("a-one (")
    assert not (set(reprs) & b_ids)


# --- cache --------------------------------------------------------------------------------------


def test_cache_entries_with_the_same_key_never_collide(vendor_a, vendor_b):
    with schema_context(vendor_a.schema):
        cache.set("shared-key", "value of A")
    with schema_context(vendor_b.schema):
        assert cache.get("shared-key") is None
        cache.set("shared-key", "value of B")
    with schema_context("public"):
        assert cache.get("shared-key") is None

    with schema_context(vendor_a.schema):
        assert cache.get("shared-key") == "value of A"
    with schema_context(vendor_b.schema):
        assert cache.get("shared-key") == "value of B"


def test_cache_delete_in_a_leaves_b(vendor_a, vendor_b):
    with schema_context(vendor_a.schema):
        cache.set_many({"k1": "A1", "k2": "A2"})
    with schema_context(vendor_b.schema):
        cache.set_many({"k1": "B1", "k2": "B2"})

    with schema_context(vendor_a.schema):
        cache.delete("k1")
        cache.delete_many(["k2"])
        assert cache.get_many(["k1", "k2"]) == {}
    with schema_context(vendor_b.schema):
        assert cache.get_many(["k1", "k2"]) == {"k1": "B1", "k2": "B2"}


def test_cache_counters_are_per_vendor(vendor_a, vendor_b):
    with schema_context(vendor_a.schema):
        cache.set("hits", 0)
        cache.incr("hits", 5)
    with schema_context(vendor_b.schema):
        assert cache.add("hits", 100) is True  # free in B although A holds the same key
        cache.incr("hits")
    with schema_context(vendor_a.schema):
        assert cache.get("hits") == 5
    with schema_context(vendor_b.schema):
        assert cache.get("hits") == 101


def test_cache_keys_carry_the_schema(vendor_a, vendor_b):
    with schema_context(vendor_a.schema):
        key_a = cache.make_key("k")
    with schema_context(vendor_b.schema):
        key_b = cache.make_key("k")
    assert key_a.startswith(f"{vendor_a.schema}:")
    assert key_b.startswith(f"{vendor_b.schema}:")
    assert key_a != key_b


# --- host routing -------------------------------------------------------------------------------


def test_routing_cache_never_serves_a_for_bs_host(vendor_a, vendor_b):
    key_a = make_api_key(vendor_a, name="a-only")
    key_b = make_api_key(vendor_b, name="b-only")
    on_a = host_client(vendor_a.host, HTTP_AUTHORIZATION=f"Bearer {key_a}")
    on_b = host_client(vendor_b.host, HTTP_AUTHORIZATION=f"Bearer {key_b}")

    # Interleave so every request finds the other vendor's entry hot in the routing cache.
    for _ in range(3):
        assert key_names(on_a.get(KEYS_URL)) == {"a-only"}
        assert key_names(on_b.get(KEYS_URL)) == {"b-only"}
        # A's key presented on B right after a request on A: B's schema, so 401.
        assert on_b.get(KEYS_URL, HTTP_AUTHORIZATION=f"Bearer {key_a}").status_code == 401
        assert on_a.get(KEYS_URL, HTTP_AUTHORIZATION=f"Bearer {key_b}").status_code == 401

    assert routing._routes[vendor_a.host][1].schema_name == vendor_a.schema
    assert routing._routes[vendor_b.host][1].schema_name == vendor_b.schema
    # The request leaves the connection on the schema of the host it served.
    on_b.get(KEYS_URL)
    assert connection.schema_name == vendor_b.schema


def test_routing_ignores_the_port(vendor_b):
    key_b = make_api_key(vendor_b, name="b-only")
    client = host_client(f"{vendor_b.host}:8443", HTTP_AUTHORIZATION=f"Bearer {key_b}")
    assert key_names(client.get(KEYS_URL)) == {"b-only"}


def test_routing_ignores_the_case_of_the_host(vendor_b):
    key_b = make_api_key(vendor_b, name="b-only")
    client = host_client(vendor_b.host.upper(), HTTP_AUTHORIZATION=f"Bearer {key_b}")
    assert key_names(client.get(KEYS_URL)) == {"b-only"}


def test_unknown_host_is_404_and_not_cached_as_a_vendor(vendor_a):
    response = host_client("nobody.localhost").get(KEYS_URL)
    assert response.status_code == 404
    assert response["Content-Type"] == PROBLEM_CONTENT_TYPE
    assert response.json()["detail"] == "No vendor is served at nobody.localhost."
    assert "nobody.localhost" not in routing._routes


# --- suspension ---------------------------------------------------------------------------------


def test_suspended_vendor_answers_503_and_reactivation_restores_it(vendor_a, vendor_b):
    key_a = make_api_key(vendor_a, name="a-only")
    key_b = make_api_key(vendor_b, name="b-only")
    on_a = host_client(vendor_a.host, HTTP_AUTHORIZATION=f"Bearer {key_a}")
    on_b = host_client(vendor_b.host, HTTP_AUTHORIZATION=f"Bearer {key_b}")
    assert key_names(on_b.get(KEYS_URL)) == {"b-only"}  # routing cache now holds B as active

    suspended = vendor_suspend(
        vendor=vendor_b.vendor, reason="Unpaid platform fees", actor=Actor.system("tests")
    )
    assert suspended.status == "suspended"
    before_b = tenant_rows(vendor_b.schema)

    api = on_b.post(KEYS_URL, {"name": "while-suspended"}, content_type="application/json")
    assert api.status_code == 503
    assert api["Content-Type"] == PROBLEM_CONTENT_TYPE
    assert api.json() == {
        "type": "/api/v1/problems/vendor-suspended",
        "title": "Vendor suspended",
        "status": 503,
        "detail": "Vendor B is suspended on this platform.",
    }
    page = host_client(vendor_b.host).get("/accounts/login/")
    assert page.status_code == 503
    assert page["Content-Type"].startswith("text/html")
    assert "Vendor B" in page.content.decode()
    assert tenant_rows(vendor_b.schema) == before_b
    # The other vendor is untouched.
    assert key_names(on_a.get(KEYS_URL)) == {"a-only"}

    vendor_reactivate(vendor=suspended, actor=Actor.system("tests"))
    assert key_names(on_b.get(KEYS_URL)) == {"b-only"}
    assert host_client(vendor_b.host).get("/accounts/login/").status_code == 200
