"""Vendor services: create (a clone of the template schema), suspend, reactivate, 2FA policy —
each writes its audit row, and a rejected call creates nothing."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.db import connection
from django_tenants.utils import schema_context, schema_exists

from accounts.models import User
from core.actors import Actor
from core.models import AuditEntry
from tenancy.errors import VendorError
from tenancy.models import Domain, Vendor
from tenancy.services import (
    schema_name_for,
    vendor_create,
    vendor_reactivate,
    vendor_set_console_2fa,
    vendor_suspend,
)
from tests.conftest import PLATFORM_HOST, host_client

pytestmark = pytest.mark.django_db

ACTOR = Actor.system("operator-tests")


def schemas() -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT nspname FROM pg_namespace")
        return {row[0] for row in cursor.fetchall()}


def tables_in(schema: str) -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT tablename FROM pg_tables WHERE schemaname = %s", [schema])
        return {row[0] for row in cursor.fetchall()}


def public_state() -> dict:
    with schema_context("public"):
        return {
            "vendors": list(Vendor.objects.order_by("pk").values_list("pk", "slug", "status")),
            "domains": list(Domain.objects.order_by("pk").values_list("pk", "domain")),
            "audit": AuditEntry.objects.count(),
            "schemas": schemas(),
        }


def create(**overrides) -> Vendor:
    fields = {
        "name": "Contoso Security",
        "slug": "contoso",
        "domain": "contoso.localhost",
        "timezone": "America/New_York",
        "currency": "USD",
        "actor": ACTOR,
    }
    return vendor_create(**{**fields, **overrides})


# --- vendor_create ------------------------------------------------------------------------------


def test_vendor_create_clones_the_template_and_audits(vendor_a):
    before = public_state()
    vendor = create(slug=" Contoso ", domain="Contoso.LOCALHOST", currency="usd")

    assert (vendor.slug, vendor.schema_name, vendor.default_currency) == (
        "contoso",
        "v_contoso",
        "USD",
    )
    assert vendor.timezone == "America/New_York"
    assert vendor.status == "active"
    assert list(vendor.domains.values_list("domain", "is_primary")) == [("contoso.localhost", True)]
    assert schema_exists("v_contoso")
    assert tables_in("v_contoso") == tables_in("tenant_template")
    assert "accounts_apikey" in tables_in("v_contoso")
    with schema_context("v_contoso"):
        assert User.objects.count() == 0  # the template carries no one's users

    with schema_context("public"):
        entry = AuditEntry.objects.get(action="vendor.created", object_id=str(vendor.pk))
    assert (entry.actor_kind, entry.actor_label) == ("system", "operator-tests")
    assert (entry.object_type, entry.object_id) == ("tenancy.vendor", str(vendor.pk))
    assert entry.before is None
    assert entry.after["slug"] == "contoso"
    assert entry.after["schema_name"] == "v_contoso"
    assert public_state()["audit"] == before["audit"] + 1


def names_in(schema: str) -> dict[str, list[str]]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT conname FROM pg_constraint WHERE connamespace = %s::regnamespace "
            "ORDER BY conname",
            [schema],
        )
        constraints = [row[0] for row in cursor.fetchall()]
        cursor.execute(
            "SELECT indexname FROM pg_indexes WHERE schemaname = %s ORDER BY indexname", [schema]
        )
        indexes = [row[0] for row in cursor.fetchall()]
    return {"constraints": constraints, "indexes": indexes}


def test_a_cloned_schema_keeps_the_templates_constraint_and_index_names(vendor_a):
    assert names_in(vendor_a.schema) == names_in("tenant_template")


def test_new_vendor_is_routable_at_once_and_starts_empty(vendor_a):
    host_client("contoso.localhost").get("/healthz")  # a miss before it exists…
    create()
    response = host_client("contoso.localhost").get("/api/v1/api-keys/")
    assert response.status_code == 401  # …is not remembered: the host now has a vendor
    assert response.json()["type"].endswith("not-authenticated")


def test_schema_name_for():
    assert schema_name_for("acme-cloud") == "v_acme_cloud"


BAD_INPUTS = [
    ({"slug": "A"}, "Slug must be"),
    ({"slug": "1password"}, "Slug must be"),
    ({"slug": "has_underscore"}, "Slug must be"),
    ({"slug": "x" * 42}, "Slug must be"),
    ({"domain": "not a host"}, "is not a valid host name"),
    ({"domain": "-dash.localhost"}, "is not a valid host name"),
    ({"domain": "https://contoso.localhost"}, "is not a valid host name"),
    ({"timezone": "Mars/Olympus_Mons"}, "is not a known time zone"),
    ({"timezone": ""}, "is not a known time zone"),
    ({"currency": "EURO"}, "is not an ISO 4217 currency code"),
    ({"currency": "US"}, "is not an ISO 4217 currency code"),
    ({"currency": "XYZ"}, "is not an ISO 4217 currency code"),
    ({"name": "   "}, "Name is required."),
    ({"slug": "vendor-a"}, "A vendor with the slug “vendor-a” already exists."),
    ({"domain": "vendor-b.localhost"}, "The domain “vendor-b.localhost” is already taken."),
    ({"domain": PLATFORM_HOST}, f"The domain “{PLATFORM_HOST}” is already taken."),
]


@pytest.mark.parametrize(("overrides", "message"), BAD_INPUTS)
def test_bad_input_is_a_vendor_error_and_creates_nothing(vendor_a, vendor_b, overrides, message):
    before = public_state()
    with pytest.raises(VendorError) as excinfo:
        create(**overrides)
    assert message in str(excinfo.value)
    assert public_state() == before


def test_all_problems_are_reported_at_once(vendor_a):
    with pytest.raises(VendorError) as excinfo:
        create(slug="A", domain="bad host", timezone="Nowhere", currency="EURO")
    message = str(excinfo.value)
    for part in ("Slug must be", "valid host name", "known time zone", "ISO 4217"):
        assert part in message


def test_existing_schema_is_a_vendor_error(vendor_a):
    with connection.cursor() as cursor:
        cursor.execute('CREATE SCHEMA "v_contoso"')
    before = public_state()
    with pytest.raises(VendorError, match="The schema “v_contoso” already exists"):
        create()
    assert public_state() == before
    assert tables_in("v_contoso") == set()


def test_missing_template_is_a_vendor_error(vendor_a, settings):
    settings.TENANT_BASE_SCHEMA = "no_such_template"
    before = public_state()
    with pytest.raises(VendorError, match="The template schema is missing"):
        create()
    assert public_state() == before


# --- suspend / reactivate -----------------------------------------------------------------------


def audit_rows(schema: str, action: str) -> list[tuple]:
    with schema_context(schema):
        return list(
            AuditEntry.objects.filter(action=action).values_list(
                "object_id", "actor_label", "before", "after"
            )
        )


def test_suspend_and_reactivate_write_audit_rows_with_the_changes(vendor_b):
    vendor = vendor_b.vendor
    suspended = vendor_suspend(vendor=vendor, reason="  Unpaid invoice  ", actor=ACTOR)
    assert (suspended.status, suspended.status_reason) == ("suspended", "Unpaid invoice")
    with schema_context("public"):
        assert Vendor.objects.get(pk=vendor.pk).status == "suspended"
    assert audit_rows("public", "vendor.suspended") == [
        (
            str(vendor.pk),
            "operator-tests",
            {"status": "active", "status_reason": ""},
            {"status": "suspended", "status_reason": "Unpaid invoice"},
        )
    ]

    reactivated = vendor_reactivate(vendor=suspended, actor=ACTOR)
    assert (reactivated.status, reactivated.status_reason) == ("active", "")
    assert audit_rows("public", "vendor.reactivated") == [
        (
            str(vendor.pk),
            "operator-tests",
            {"status": "suspended", "status_reason": "Unpaid invoice"},
            {"status": "active", "status_reason": ""},
        )
    ]
    # Nothing of this lands in the vendor's own log.
    assert audit_rows(vendor_b.schema, "vendor.suspended") == []


def vendor_row(pk: int) -> tuple:
    with schema_context("public"):
        return Vendor.objects.filter(pk=pk).values_list("status", "status_reason").get()


def test_suspend_needs_a_reason(vendor_b):
    before, audit = vendor_row(vendor_b.vendor.pk), public_state()["audit"]
    with pytest.raises(VendorError, match="Give a reason"):
        vendor_suspend(vendor=vendor_b.vendor, reason="   ", actor=ACTOR)
    assert vendor_row(vendor_b.vendor.pk) == before
    assert public_state()["audit"] == audit


def test_suspending_twice_and_reactivating_an_active_vendor_fail(vendor_b):
    with pytest.raises(VendorError, match="already active"):
        vendor_reactivate(vendor=vendor_b.vendor, actor=ACTOR)
    suspended = vendor_suspend(vendor=vendor_b.vendor, reason="Audit", actor=ACTOR)
    audit = public_state()["audit"]
    with pytest.raises(VendorError, match="already suspended"):
        vendor_suspend(vendor=suspended, reason="Again", actor=ACTOR)
    assert vendor_row(vendor_b.vendor.pk) == ("suspended", "Audit")
    assert public_state()["audit"] == audit


def test_the_platform_tenant_cannot_be_suspended(vendor_a):
    with schema_context("public"):
        platform = Vendor.objects.get(schema_name="public")
    audit = public_state()["audit"]
    with pytest.raises(VendorError, match="platform tenant cannot be suspended"):
        vendor_suspend(vendor=platform, reason="Oops", actor=ACTOR)
    assert vendor_row(platform.pk) == ("active", "")
    assert public_state()["audit"] == audit


def test_console_2fa_policy_is_audited_in_the_vendors_own_log(vendor_a):
    vendor_set_console_2fa(vendor=vendor_a.vendor, required=True, actor=ACTOR)
    with schema_context("public"):
        assert Vendor.objects.get(pk=vendor_a.vendor.pk).require_console_2fa is True
    assert audit_rows(vendor_a.schema, "vendor.2fa_policy_changed") == [
        (
            str(vendor_a.vendor.pk),
            "operator-tests",
            {"require_console_2fa": False},
            {"require_console_2fa": True},
        )
    ]
    assert audit_rows("public", "vendor.2fa_policy_changed") == []


def rows_in(schema: str, table: str) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(f'SELECT * FROM "{schema}"."{table}" ORDER BY 1')
        return cursor.fetchall()


def test_a_cloned_schema_copies_the_templates_rows_and_moves_sequences_past_them(vendor_a):
    for table in ("django_migrations", "django_content_type", "auth_permission"):
        template_rows = rows_in("tenant_template", table)
        assert template_rows, table
        assert rows_in(vendor_a.schema, table) == template_rows
    with schema_context(vendor_a.schema):
        from django.contrib.contenttypes.models import ContentType

        highest = ContentType.objects.order_by("-pk").values_list("pk", flat=True).first()
        created = ContentType.objects.create(app_label="clone", model="probe")
        # Past the copied rows (sequences are not rolled back, so not necessarily highest + 1).
        assert created.pk > highest


def test_a_cloned_schema_keeps_foreign_keys_inside_itself(vendor_a):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT DISTINCT confrelid::regclass::text FROM pg_constraint "
            "WHERE contype = 'f' AND connamespace = %s::regnamespace",
            [vendor_a.schema],
        )
        referenced = sorted(row[0] for row in cursor.fetchall())
    assert referenced
    assert all(name.startswith(f"{vendor_a.schema}.") for name in referenced), referenced


def test_a_cloned_schema_keeps_the_templates_storage_parameters(vendor_a):
    def options(schema: str) -> dict[str, list[str]]:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT relname, reloptions FROM pg_class WHERE relnamespace = %s::regnamespace "
                "AND relkind = 'r' AND reloptions IS NOT NULL",
                [schema],
            )
            return dict(cursor.fetchall())

    template = options(settings.TENANT_BASE_SCHEMA)
    # Statements are updated in place at every posting: room on each page for HOT updates.
    assert template["incentives_statement"] == ["fillfactor=50"]
    assert options(vendor_a.schema) == template


def triggers_in(schema: str) -> list[tuple[str, str, str]]:
    """(table, trigger, the schema of the function it runs)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, t.tgname, p.pronamespace::regnamespace::text "
            "FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
            "JOIN pg_proc p ON p.oid = t.tgfoid "
            "WHERE c.relnamespace = %s::regnamespace AND NOT t.tgisinternal ORDER BY 1, 2",
            [schema],
        )
        return cursor.fetchall()


def test_a_cloned_schema_gets_the_templates_triggers_running_its_own_functions(vendor_a):
    template = triggers_in("tenant_template")
    assert (
        "partners_agreementversion",
        "agreement_version_immutable",
        "tenant_template",
    ) in template
    assert triggers_in(vendor_a.schema) == [
        (table, name, vendor_a.schema) for table, name, _ in template
    ]
