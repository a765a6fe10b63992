"""The operators' CLI: create_vendor and create_api_key."""

import io
import json

import pytest
from django.core import mail
from django.core.management import CommandError, call_command
from django_tenants.utils import schema_context, schema_exists

from accounts.models import ApiKey, Invitation
from accounts.services.api_keys import hash_key
from tenancy.models import Domain, Vendor

pytestmark = pytest.mark.django_db


def run(*args) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_create_vendor_json_and_admin_invitation(django_db_setup):
    out = run(
        "create_vendor",
        "--name",
        "Gamma Ltd",
        "--slug",
        "gamma",
        "--domain",
        "Gamma.Localhost",
        "--timezone",
        "America/New_York",
        "--currency",
        "usd",
        "--admin-email",
        "Boss@Gamma.example",
        "--invite-scheme",
        "http",
        "--json",
    )
    data = json.loads(out)
    assert data == {
        "id": data["id"],
        "name": "Gamma Ltd",
        "slug": "gamma",
        "schema": "v_gamma",
        "domain": "gamma.localhost",
        "timezone": "America/New_York",
        "currency": "USD",
        "status": "active",
        "admin_invited": "boss@gamma.example",
    }
    vendor = Vendor.objects.get(slug="gamma")
    assert Domain.objects.get(tenant=vendor).domain == "gamma.localhost"
    assert schema_exists("v_gamma")
    with schema_context("v_gamma"):
        invitation = Invitation.objects.get()
        assert (invitation.email, invitation.vendor_role) == ("boss@gamma.example", "admin")
    assert len(mail.outbox) == 1
    assert "http://gamma.localhost/accounts/invitations/" in mail.outbox[0].body


def test_create_vendor_rejects_bad_input_and_creates_nothing(django_db_setup):
    before = Vendor.objects.count()
    with pytest.raises(CommandError, match="not a known time zone"):
        run(
            "create_vendor",
            "--name",
            "X",
            "--slug",
            "xco",
            "--domain",
            "x.localhost",
            "--timezone",
            "Mars/Olympus",
        )
    with pytest.raises(CommandError, match="not a valid email"):
        run(
            "create_vendor",
            "--name",
            "X",
            "--slug",
            "xco",
            "--domain",
            "x.localhost",
            "--admin-email",
            "nope",
        )
    with pytest.raises(CommandError, match="already taken"):
        run("create_vendor", "--name", "X", "--slug", "xco", "--domain", "vendor-a.localhost")
    assert Vendor.objects.count() == before
    assert not schema_exists("v_xco")


def test_create_api_key_prints_a_working_key_once(vendor_a):
    data = json.loads(run("create_api_key", "--vendor", "vendor-a", "--name", "RMM sync", "--json"))
    assert data["vendor"] == "vendor-a" and data["scope"] == "vendor" and data["name"] == "RMM sync"
    with schema_context(vendor_a.schema):
        key = ApiKey.objects.get(pk=data["id"])
        assert key.key_hash == hash_key(data["key"])
        assert data["key"] not in (key.prefix, key.name)


def test_create_api_key_unknown_vendor():
    with pytest.raises(CommandError, match="No vendor with the slug"):
        run("create_api_key", "--vendor", "nobody", "--name", "x")
