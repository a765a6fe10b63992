"""`Idempotency-Key` on API POSTs: replays, conflicts, scoping, and what is (not) stored."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from django_tenants.utils import schema_context

from accounts.models import ApiKey
from core.api.idempotency import (
    ABANDONED_AFTER,
    MAX_KEY_LENGTH,
    RETENTION,
    _sha256,
    purge_expired_records,
)
from core.api.problems import PROBLEM_CONTENT_TYPE
from core.models import AuditEntry, IdempotencyRecord
from tests.conftest import host_client, make_api_key

pytestmark = pytest.mark.django_db

KEYS_URL = "/api/v1/api-keys/"


def counts(schema: str) -> dict[str, int]:
    with schema_context(schema):
        return {
            "api_keys": ApiKey.objects.count(),
            "audit": AuditEntry.objects.count(),
            "records": IdempotencyRecord.objects.count(),
        }


def post(client, data, key: str | None, url: str = KEYS_URL, **extra):
    if key is not None:
        extra["HTTP_IDEMPOTENCY_KEY"] = key
    return client.post(url, data, content_type="application/json", **extra)


def assert_problem(response, status: int, slug: str) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == PROBLEM_CONTENT_TYPE
    body = response.json()
    assert body["status"] == status
    assert body["type"] == f"/api/v1/problems/{slug}"
    return body


def test_replay_returns_the_first_response_and_creates_nothing(api_a, vendor_a):
    before = counts(vendor_a.schema)
    first = post(api_a, {"name": "billing-sync"}, "create-1")
    assert first.status_code == 201
    assert not first.has_header("Idempotent-Replayed")
    after_first = counts(vendor_a.schema)
    assert after_first == {
        "api_keys": before["api_keys"] + 1,
        "audit": before["audit"] + 1,
        "records": before["records"] + 1,
    }

    second = post(api_a, {"name": "billing-sync"}, "create-1")
    third = post(api_a, {"name": "billing-sync"}, "create-1")

    for replay in (second, third):
        assert replay.status_code == 201
        assert replay["Idempotent-Replayed"] == "true"
        assert replay["Content-Type"] == first["Content-Type"]
        assert replay.json() == {**first.json(), "key": None}
    assert counts(vendor_a.schema) == after_first
    with schema_context(vendor_a.schema):
        assert ApiKey.objects.filter(name="billing-sync").count() == 1


def test_replay_is_byte_identical_for_a_response_without_secrets(api_a, vendor_a):
    with schema_context(vendor_a.schema):
        target = ApiKey.objects.get(name="tests")  # the key api_a itself uses
    other = host_client(vendor_a.host, HTTP_AUTHORIZATION=f"Bearer {make_api_key(vendor_a)}")
    url = f"{KEYS_URL}{target.pk}/revoke/"

    first = post(other, None, "revoke-1", url=url)
    assert first.status_code == 200
    audit_after_first = counts(vendor_a.schema)["audit"]
    # Without idempotency this would be a 400 "already revoked"; with it, the first answer.
    second = post(other, None, "revoke-1", url=url)
    assert second.status_code == 200
    assert second.content == first.content
    assert second["Idempotent-Replayed"] == "true"
    assert counts(vendor_a.schema)["audit"] == audit_after_first
    assert post(other, None, None, url=url).status_code == 400  # no key: the real second call


def test_same_key_with_a_different_body_is_409(api_a, vendor_a):
    assert post(api_a, {"name": "first"}, "create-2").status_code == 201
    before = counts(vendor_a.schema)

    response = post(api_a, {"name": "second"}, "create-2")

    body = assert_problem(response, 409, "idempotency-key-reused")
    assert body["detail"] == "This Idempotency-Key was already used with a different request."
    assert counts(vendor_a.schema) == before
    with schema_context(vendor_a.schema):
        assert not ApiKey.objects.filter(name="second").exists()


def test_same_key_on_a_different_path_is_409(api_a, vendor_a):
    assert post(api_a, {"name": "first"}, "create-3").status_code == 201
    before = counts(vendor_a.schema)
    with schema_context(vendor_a.schema):
        target = ApiKey.objects.get(name="first")
    response = post(api_a, {"name": "first"}, "create-3", url=f"{KEYS_URL}{target.pk}/revoke/")
    assert_problem(response, 409, "idempotency-key-reused")
    assert counts(vendor_a.schema) == before
    with schema_context(vendor_a.schema):
        assert ApiKey.objects.get(pk=target.pk).revoked_at is None


def test_request_still_in_progress_is_409(api_a, vendor_a):
    body = b'{"name": "slow"}'
    with schema_context(vendor_a.schema):
        IdempotencyRecord.objects.create(
            credential_hash=_sha256(api_a.defaults["HTTP_AUTHORIZATION"].encode()),
            key="create-4",
            method="POST",
            path=KEYS_URL,
            request_hash=_sha256(b"POST", KEYS_URL.encode(), body),
        )
    before = counts(vendor_a.schema)
    response = api_a.post(
        KEYS_URL, body, content_type="application/json", HTTP_IDEMPOTENCY_KEY="create-4"
    )
    assert_problem(response, 409, "idempotency-key-in-progress")
    assert counts(vendor_a.schema) == before


def test_abandoned_in_progress_record_is_taken_over(api_a, vendor_a):
    body = b'{"name": "crashed"}'
    with schema_context(vendor_a.schema):
        record = IdempotencyRecord.objects.create(
            credential_hash=_sha256(api_a.defaults["HTTP_AUTHORIZATION"].encode()),
            key="create-5",
            method="POST",
            path=KEYS_URL,
            request_hash=_sha256(b"POST", KEYS_URL.encode(), body),
        )
        IdempotencyRecord.objects.filter(pk=record.pk).update(
            created_at=timezone.now() - ABANDONED_AFTER - timedelta(seconds=1)
        )
    response = api_a.post(
        KEYS_URL, body, content_type="application/json", HTTP_IDEMPOTENCY_KEY="create-5"
    )
    assert response.status_code == 201
    with schema_context(vendor_a.schema):
        record.refresh_from_db()
        assert record.state == IdempotencyRecord.State.DONE
        assert record.response_status == 201
        assert ApiKey.objects.filter(name="crashed").count() == 1


def test_key_is_scoped_per_credential(api_a, vendor_a):
    other = host_client(vendor_a.host, HTTP_AUTHORIZATION=f"Bearer {make_api_key(vendor_a)}")
    first = post(api_a, {"name": "shared-name"}, "same-key")
    second = post(other, {"name": "shared-name"}, "same-key")

    assert first.status_code == 201
    assert second.status_code == 201
    assert not second.has_header("Idempotent-Replayed")
    assert second.json()["id"] != first.json()["id"]
    assert second.json()["key"] not in (None, first.json()["key"])
    with schema_context(vendor_a.schema):
        assert ApiKey.objects.filter(name="shared-name").count() == 2
        assert IdempotencyRecord.objects.filter(key="same-key").count() == 2


def test_key_is_scoped_per_vendor(vendor_a, vendor_b):
    # Same Idempotency-Key, same body: B's records live in B's schema, so B's request runs.
    on_a = host_client(vendor_a.host, HTTP_AUTHORIZATION=f"Bearer {make_api_key(vendor_a)}")
    on_b = host_client(vendor_b.host, HTTP_AUTHORIZATION=f"Bearer {make_api_key(vendor_b)}")
    before_b = counts(vendor_b.schema)

    assert post(on_a, {"name": "nightly"}, "vendor-key").status_code == 201
    response_b = post(on_b, {"name": "nightly"}, "vendor-key")

    assert response_b.status_code == 201
    assert not response_b.has_header("Idempotent-Replayed")
    assert response_b.json()["key"] is not None
    assert counts(vendor_b.schema) == {
        "api_keys": before_b["api_keys"] + 1,
        "audit": before_b["audit"] + 1,
        "records": before_b["records"] + 1,
    }
    with schema_context(vendor_a.schema):
        assert IdempotencyRecord.objects.filter(key="vendor-key").count() == 1


def test_the_new_api_key_secret_is_never_stored_or_replayed(api_a, vendor_a):
    first = post(api_a, {"name": "shown-once"}, "secret-1")
    secret = first.json()["key"]
    assert secret.startswith("msp_")

    replay = post(api_a, {"name": "shown-once"}, "secret-1")

    assert replay["Idempotent-Replayed"] == "true"
    assert replay.json()["key"] is None
    assert secret not in replay.content.decode()
    with schema_context(vendor_a.schema):
        stored = bytes(IdempotencyRecord.objects.get(key="secret-1").response_body)
    assert secret.encode() not in stored
    assert b'"key":null' in stored


@pytest.mark.parametrize("key", ["", "k" * (MAX_KEY_LENGTH + 1)])
def test_empty_or_over_long_key_is_400(api_a, vendor_a, key):
    before = counts(vendor_a.schema)
    response = post(api_a, {"name": "never"}, key)
    body = assert_problem(response, 400, "idempotency-key-invalid")
    assert body["detail"] == f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} characters."
    assert counts(vendor_a.schema) == before


def test_key_of_maximum_length_is_accepted(api_a):
    key = "k" * MAX_KEY_LENGTH
    assert post(api_a, {"name": "long-key"}, key).status_code == 201
    assert post(api_a, {"name": "long-key"}, key)["Idempotent-Replayed"] == "true"


def test_validation_error_is_replayed(api_a, vendor_a):
    first = post(api_a, {"name": ""}, "invalid-1")
    assert_problem(first, 400, "validation")
    before = counts(vendor_a.schema)

    second = post(api_a, {"name": ""}, "invalid-1")

    assert second.status_code == 400
    assert second["Idempotent-Replayed"] == "true"
    assert second["Content-Type"] == PROBLEM_CONTENT_TYPE
    assert second.content == first.content
    assert counts(vendor_a.schema) == before


def test_401_is_not_stored(vendor_a):
    before = counts(vendor_a.schema)
    bad = host_client(vendor_a.host, HTTP_AUTHORIZATION="Bearer msp_nope_not-a-key")
    for _ in range(2):
        response = post(bad, {"name": "x"}, "unauth-1")
        assert response.status_code == 401
        assert not response.has_header("Idempotent-Replayed")
    assert counts(vendor_a.schema) == before


def test_get_and_requests_without_a_key_store_nothing(api_a, vendor_a):
    before = counts(vendor_a.schema)
    assert api_a.get(KEYS_URL, HTTP_IDEMPOTENCY_KEY="get-1").status_code == 200
    assert post(api_a, {"name": "no-key"}, None).status_code == 201
    assert counts(vendor_a.schema)["records"] == before["records"]


def test_purge_deletes_only_expired_records(api_a, vendor_a):
    post(api_a, {"name": "old"}, "old-key")
    post(api_a, {"name": "new"}, "new-key")
    with schema_context(vendor_a.schema):
        IdempotencyRecord.objects.filter(key="old-key").update(
            created_at=timezone.now() - RETENTION - timedelta(minutes=1)
        )
        assert purge_expired_records() == 1
        assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["new-key"]
