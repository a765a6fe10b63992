"""The audit log: what `audit_record` stores, and /api/v1/audit-events/ (filters, pagination)."""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlencode

import pytest
from django_tenants.utils import schema_context

from accounts.models import ApiKey
from core.actors import Actor
from core.models import AuditEntry
from core.services.audit import audit_record, snapshot
from tests.conftest import host_client, make_api_key

pytestmark = pytest.mark.django_db

URL = "/api/v1/audit-events/"
UTC = dt.UTC


def record(schema: str, action: str, instance=None, **kwargs) -> AuditEntry:
    with schema_context(schema):
        instance = instance or ApiKey.objects.order_by("pk").first()
        return audit_record(actor=Actor.system("tests"), action=action, instance=instance, **kwargs)


def list_all(client, query: dict) -> list[dict]:
    """Every row of a filtered list, following `next` links; fails on a repeated row."""
    rows: list[dict] = []
    url = f"{URL}?{urlencode(query)}"
    while url:
        response = client.get(url)
        assert response.status_code == 200, response.content
        rows += response.json()["results"]
        url = response.json()["next"]
    ids = [row["id"] for row in rows]
    assert len(ids) == len(set(ids)), "a row appeared twice"
    return rows


# --- audit_record -------------------------------------------------------------------------------


def test_only_changed_fields_are_stored(api_a, vendor_a):
    entry = record(
        vendor_a.schema,
        "thing.changed",
        before={"name": "old", "scope": "vendor", "revoked_at": None},
        after={"name": "new", "scope": "vendor", "revoked_at": "2026-01-01T00:00:00+00:00"},
    )
    with schema_context(vendor_a.schema):
        stored = AuditEntry.objects.get(pk=entry.pk)
    assert stored.before == {"name": "old", "revoked_at": None}
    assert stored.after == {"name": "new", "revoked_at": "2026-01-01T00:00:00+00:00"}


def test_a_creation_keeps_the_whole_after_and_no_before(api_a, vendor_a):
    entry = record(vendor_a.schema, "thing.created", after={"name": "x", "scope": "vendor"})
    with schema_context(vendor_a.schema):
        stored = AuditEntry.objects.get(pk=entry.pk)
    assert stored.before is None
    assert stored.after == {"name": "x", "scope": "vendor"}
    assert stored.actor_kind == "system"
    assert stored.actor_id is None
    assert stored.actor_label == "tests"
    assert stored.object_type == "accounts.apikey"
    assert stored.request_id == ""


def test_snapshot_is_json_safe(api_a, vendor_a):
    with schema_context(vendor_a.schema):
        key = ApiKey.objects.get(name="tests")
    data = snapshot(key, ["name", "created_at", "revoked_at"])
    assert data == {"name": "tests", "created_at": key.created_at.isoformat(), "revoked_at": None}


def test_an_api_write_is_audited_with_the_key_ip_and_request_id(api_a, vendor_a):
    response = api_a.post(
        "/api/v1/api-keys/",
        {"name": "psa-sync"},
        content_type="application/json",
        HTTP_X_REQUEST_ID="req-audit-1",
        REMOTE_ADDR="203.0.113.9",
    )
    assert response.status_code == 201
    with schema_context(vendor_a.schema):
        caller = ApiKey.objects.get(name="tests")
        entry = AuditEntry.objects.get(action="api_key.created", object_id=response.json()["id"])
    assert response["X-Request-ID"] == "req-audit-1"
    assert (entry.actor_kind, entry.actor_id, entry.actor_label) == (
        "api_key",
        caller.pk,
        "API key tests",
    )
    assert entry.ip == "203.0.113.9"
    assert entry.request_id == "req-audit-1"
    assert entry.object_repr == f"psa-sync ({response.json()['prefix']}…)"
    assert entry.before is None
    assert entry.after == {
        "name": "psa-sync",
        "prefix": response.json()["prefix"],
        "scope": "vendor",
        "partner_id": None,
    }


# --- the API ------------------------------------------------------------------------------------


def test_list_shape(api_a, vendor_a):
    entry = record(vendor_a.schema, "shape.checked", before={"a": 1}, after={"a": 2})
    response = api_a.get(f"{URL}?action=shape.checked")
    assert response.status_code == 200
    with schema_context(vendor_a.schema):
        key = ApiKey.objects.order_by("pk").first()
        at = AuditEntry.objects.get(pk=entry.pk).at
    assert response.json() == {
        "results": [
            {
                "id": entry.pk,
                "at": at.isoformat().replace("+00:00", "Z"),
                "actor": {"kind": "system", "id": None, "label": "tests"},
                "ip": None,
                "action": "shape.checked",
                "object_type": "accounts.apikey",
                "object_id": str(key.pk),
                "object_repr": str(key),
                "before": {"a": 1},
                "after": {"a": 2},
                "request_id": "",
            }
        ],
        "next": None,
    }
    assert api_a.get(f"{URL}{entry.pk}/").json()["action"] == "shape.checked"


def test_cursor_pagination_with_limit_two(api_a, vendor_a):
    made = [record(vendor_a.schema, "page.test").pk for _ in range(5)]

    first = api_a.get(f"{URL}?action=page.test&limit=2")
    assert first.status_code == 200
    assert [row["id"] for row in first.json()["results"]] == made[::-1][:2]
    assert first.json()["next"] is not None
    assert "action=page.test" in first.json()["next"]

    rows = list_all(api_a, {"action": "page.test", "limit": 2})
    assert [row["id"] for row in rows] == made[::-1]


def test_filters(api_a, vendor_a):
    with schema_context(vendor_a.schema):
        other_key = ApiKey.objects.create(name="other", prefix="other001", key_hash="0" * 64)
    e1 = record(vendor_a.schema, "filter.one")
    e2 = record(vendor_a.schema, "filter.two")
    e3 = record(vendor_a.schema, "filter.two", instance=other_key)
    with schema_context(vendor_a.schema):
        AuditEntry.objects.filter(pk=e1.pk).update(at=dt.datetime(2026, 1, 1, 12, tzinfo=UTC))
        AuditEntry.objects.filter(pk=e2.pk).update(at=dt.datetime(2026, 2, 1, 12, tzinfo=UTC))
        AuditEntry.objects.filter(pk=e3.pk).update(at=dt.datetime(2026, 3, 1, 12, tzinfo=UTC))
        AuditEntry.objects.create(
            actor_kind="user",
            actor_label="someone@x.example",
            action="filter.one",
            object_type="accounts.user",
            object_id="1",
            object_repr="someone",
        )

    def ids(query: dict) -> list[int]:
        return [row["id"] for row in list_all(api_a, query)]

    assert ids({"action": "filter.two"}) == [e3.pk, e2.pk]
    assert ids({"action": "filter.one", "actor_kind": "system"}) == [e1.pk]
    assert ids({"object_type": "accounts.apikey", "object_id": str(other_key.pk)}) == [e3.pk]
    assert ids({"action": "filter.two", "since": "2026-02-15T00:00:00Z"}) == [e3.pk]
    window = {"since": "2026-01-01T12:00:00Z", "until": "2026-03-01T12:00:00Z"}
    assert ids(window) == [e2.pk, e1.pk]  # since inclusive, until exclusive
    assert ids({"action": "no.such.action"}) == []


def test_bad_filter_value_is_problem_400(api_a):
    response = api_a.get(f"{URL}?since=yesterday")
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"


def test_partner_keys_see_no_audit_entries(vendor_a):
    partner_key = make_api_key(vendor_a, name="partner", partner_id=42)
    record(vendor_a.schema, "vendor.only")
    client = host_client(vendor_a.host, HTTP_AUTHORIZATION=f"Bearer {partner_key}")
    response = client.get(URL)
    assert response.status_code == 200
    assert response.json() == {"results": [], "next": None}
