"""/api/v1/api-keys/: list, create (the key shown once, stored hashed), retrieve, revoke."""

from __future__ import annotations

import hashlib

import pytest
from django_tenants.utils import schema_context

from accounts.models import ApiKey
from core.models import AuditEntry
from tests.conftest import host_client, make_api_key

pytestmark = pytest.mark.django_db

URL = "/api/v1/api-keys/"
FIELDS = {"id", "name", "prefix", "scope", "created_at", "last_used_at", "revoked_at"}


def key_rows(schema: str) -> list[tuple]:
    with schema_context(schema):
        return list(
            ApiKey.objects.order_by("pk").values_list(
                "pk", "name", "key_hash", "scope", "partner_id", "revoked_at"
            )
        )


def audit_count(schema: str) -> int:
    with schema_context(schema):
        return AuditEntry.objects.count()


def test_create_shows_the_key_once_and_stores_only_its_hash(api_a, vendor_a):
    response = api_a.post(URL, {"name": "RMM sync"}, content_type="application/json")

    assert response.status_code == 201
    body = response.json()
    assert set(body) == FIELDS | {"key"}
    assert (body["name"], body["scope"], body["last_used_at"], body["revoked_at"]) == (
        "RMM sync",
        "vendor",
        None,
        None,
    )
    assert body["key"].startswith(f"msp_{body['prefix']}_")
    with schema_context(vendor_a.schema):
        stored = ApiKey.objects.get(pk=body["id"])
        audit = AuditEntry.objects.get(action="api_key.created", object_id=str(stored.pk))
        columns = ApiKey.objects.filter(pk=stored.pk).values().get()
    assert stored.key_hash == hashlib.sha256(body["key"].encode()).hexdigest()
    assert body["key"] not in str(columns)
    assert body["key"] not in str(audit.after)
    assert audit.after == {
        "name": "RMM sync",
        "prefix": body["prefix"],
        "scope": "vendor",
        "partner_id": None,
    }

    # The key works at once, and is never shown again.
    fresh = host_client(vendor_a.host, HTTP_AUTHORIZATION=f"Bearer {body['key']}")
    listed = fresh.get(URL)
    assert listed.status_code == 200
    assert all("key" not in row and "key_hash" not in row for row in listed.json()["results"])
    assert set(fresh.get(f"{URL}{body['id']}/").json()) == FIELDS


def test_list_is_newest_first(api_a, vendor_a):
    make_api_key(vendor_a, name="second")
    make_api_key(vendor_a, name="third")
    response = api_a.get(URL)
    assert response.status_code == 200
    assert [row["name"] for row in response.json()["results"]] == ["third", "second", "tests"]
    assert response.json()["next"] is None


def test_retrieve(api_a, vendor_a):
    with schema_context(vendor_a.schema):
        key = ApiKey.objects.get(name="tests")
    response = api_a.get(f"{URL}{key.pk}/")
    assert response.status_code == 200
    assert response.json()["id"] == key.pk
    assert response.json()["prefix"] == key.prefix
    assert response.json()["last_used_at"] is not None  # this very request used it


def test_last_used_at_is_written_on_first_use_only_within_a_minute(vendor_a):
    secret = make_api_key(vendor_a, name="quiet")
    with schema_context(vendor_a.schema):
        assert ApiKey.objects.get(name="quiet").last_used_at is None
    client = host_client(vendor_a.host, HTTP_AUTHORIZATION=f"Bearer {secret}")
    client.get(URL)
    with schema_context(vendor_a.schema):
        first = ApiKey.objects.get(name="quiet").last_used_at
    client.get(URL)
    with schema_context(vendor_a.schema):
        assert ApiKey.objects.get(name="quiet").last_used_at == first
    assert first is not None


def test_revoke_then_the_key_is_refused(api_a, vendor_a):
    secret = make_api_key(vendor_a, name="to-revoke")
    with schema_context(vendor_a.schema):
        target = ApiKey.objects.get(name="to-revoke")
    victim = host_client(vendor_a.host, HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert victim.get(URL).status_code == 200

    response = api_a.post(f"{URL}{target.pk}/revoke/")

    assert response.status_code == 200
    assert response.json()["revoked_at"] is not None
    with schema_context(vendor_a.schema):
        target.refresh_from_db()
        audit = AuditEntry.objects.get(action="api_key.revoked", object_id=str(target.pk))
    assert target.revoked_at is not None
    assert audit.before == {"revoked_at": None}
    assert audit.after == {"revoked_at": target.revoked_at.isoformat()}
    refused = victim.get(URL)
    assert refused.status_code == 401
    assert refused.json()["detail"] == "Invalid or revoked API key."


def test_revoking_twice_is_400_and_changes_nothing(api_a, vendor_a):
    make_api_key(vendor_a, name="gone")
    with schema_context(vendor_a.schema):
        target = ApiKey.objects.get(name="gone")
    assert api_a.post(f"{URL}{target.pk}/revoke/").status_code == 200
    rows, audit = key_rows(vendor_a.schema), audit_count(vendor_a.schema)

    response = api_a.post(f"{URL}{target.pk}/revoke/")

    assert response.status_code == 400
    assert response.json()["errors"] == [
        {
            "field": "",  # about the request as a whole
            "code": "invalid",
            "message": "The key “gone” is already revoked.",
        }
    ]
    assert key_rows(vendor_a.schema) == rows
    assert audit_count(vendor_a.schema) == audit


def test_name_over_100_characters_is_400_and_creates_nothing(api_a, vendor_a):
    rows = key_rows(vendor_a.schema)
    response = api_a.post(URL, {"name": "n" * 101}, content_type="application/json")
    assert response.status_code == 400
    assert [e["field"] for e in response.json()["errors"]] == ["name"]
    assert key_rows(vendor_a.schema) == rows


def test_without_credentials_nothing_is_created(client_a, vendor_a):
    rows, audit = key_rows(vendor_a.schema), audit_count(vendor_a.schema)
    response = client_a.post(URL, {"name": "anon"}, content_type="application/json")
    assert response.status_code == 401
    assert key_rows(vendor_a.schema) == rows
    assert audit_count(vendor_a.schema) == audit


# --- partner keys -------------------------------------------------------------------------------


@pytest.fixture
def partner_api(vendor_a):
    secret = make_api_key(vendor_a, name="partner-7", partner_id=7)
    return host_client(vendor_a.host, HTTP_AUTHORIZATION=f"Bearer {secret}")


def test_partner_key_cannot_create_keys(partner_api, vendor_a):
    rows, audit = key_rows(vendor_a.schema), audit_count(vendor_a.schema)
    response = partner_api.post(URL, {"name": "escalate"}, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["errors"][0]["message"] == "Partner keys cannot create keys."
    assert key_rows(vendor_a.schema) == rows
    assert audit_count(vendor_a.schema) == audit


def test_partner_key_sees_no_vendor_keys_and_cannot_revoke_them(api_a, partner_api, vendor_a):
    with schema_context(vendor_a.schema):
        vendor_key = ApiKey.objects.get(name="tests")
    rows, audit = key_rows(vendor_a.schema), audit_count(vendor_a.schema)

    assert partner_api.get(URL).json() == {"results": [], "next": None}
    assert partner_api.get(f"{URL}{vendor_key.pk}/").status_code == 404
    assert partner_api.post(f"{URL}{vendor_key.pk}/revoke/").status_code == 404

    assert key_rows(vendor_a.schema) == rows
    assert audit_count(vendor_a.schema) == audit
    assert api_a.get(URL).status_code == 200
