"""The console's API keys page: a new key is shown once, then only its prefix."""

from __future__ import annotations

import pytest
from django_tenants.utils import schema_context

from accounts.models import ApiKey
from accounts.services.api_keys import hash_key
from core.models import AuditEntry
from tests.conftest import host_client

pytestmark = pytest.mark.django_db


def test_create_shows_the_key_once_and_it_works_on_the_api(admin_a, vendor_a):
    response = admin_a.post("/console/api-keys/", {"name": "RMM sync"})
    assert response.status_code == 201
    assert "no-store" in response["Cache-Control"]
    secret = response.context["secret"]
    body = response.content.decode()
    assert f'value="{secret}"' in body
    assert "the only time the full key is shown" in body
    with schema_context(vendor_a.schema):
        key = ApiKey.objects.get()
        assert (key.name, key.scope, key.key_hash) == ("RMM sync", "vendor", hash_key(secret))
        assert key.created_by.email == vendor_a.admin_email
        assert AuditEntry.objects.filter(action="api_key.created").count() == 1
    # The list never shows it again, only its prefix.
    listing = admin_a.get("/console/api-keys/").content.decode()
    assert secret not in listing
    assert f"msp_{key.prefix}_…" in listing
    assert "RMM sync" in listing
    api = host_client(vendor_a.host, HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert api.get("/api/v1/api-keys/").status_code == 200


def test_blank_name_is_refused_and_nothing_is_created(admin_a, vendor_a):
    response = admin_a.post("/console/api-keys/", {"name": "   "})
    assert response.status_code == 200
    assert "This field is required." in response.content.decode()
    with schema_context(vendor_a.schema):
        assert ApiKey.objects.count() == 0


def test_revoke_asks_for_confirmation_then_revokes(admin_a, vendor_a):
    secret = admin_a.post("/console/api-keys/", {"name": "PSA"}).context["secret"]
    with schema_context(vendor_a.schema):
        key = ApiKey.objects.get()
    confirm = admin_a.get(f"/console/api-keys/{key.pk}/revoke/")
    assert confirm.status_code == 200
    assert "Revoke the key “PSA”?" in confirm.content.decode()
    with schema_context(vendor_a.schema):
        assert ApiKey.objects.get().revoked_at is None  # GET changed nothing
    response = admin_a.post(f"/console/api-keys/{key.pk}/revoke/")
    assert response.status_code == 302
    assert response["Location"] == "/console/api-keys/"
    with schema_context(vendor_a.schema):
        assert ApiKey.objects.get().revoked_at is not None
        assert AuditEntry.objects.filter(action="api_key.revoked").count() == 1
    api = host_client(vendor_a.host, HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert api.get("/api/v1/api-keys/").status_code == 401
    again = admin_a.post(f"/console/api-keys/{key.pk}/revoke/", follow=True)
    assert "already revoked" in again.content.decode()
    with schema_context(vendor_a.schema):
        assert AuditEntry.objects.filter(action="api_key.revoked").count() == 1


def test_non_admin_cannot_revoke(vendor_a, admin_a):
    from .conftest import make_user, signed_in_client

    admin_a.post("/console/api-keys/", {"name": "PSA"})
    with schema_context(vendor_a.schema):
        key = ApiKey.objects.get()
    make_user(vendor_a, "fin@vendor-a.example", role="finance")
    finance = signed_in_client(vendor_a, "fin@vendor-a.example")
    assert finance.get(f"/console/api-keys/{key.pk}/revoke/").status_code == 403
    assert finance.post(f"/console/api-keys/{key.pk}/revoke/").status_code == 403
    with schema_context(vendor_a.schema):
        assert ApiKey.objects.get().revoked_at is None
