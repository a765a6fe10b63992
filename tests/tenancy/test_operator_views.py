"""The operator area on the platform host: vendor list, create, suspend/reactivate, audit log."""

from __future__ import annotations

import pytest
from django.core import mail
from django.db import connection
from django.test import Client
from django_tenants.utils import schema_context, schema_exists

from accounts.models import Invitation, User
from core.models import AuditEntry
from tenancy.models import Domain, Vendor
from tests.conftest import host_client

VALID = {
    "name": "Globex Software",
    "slug": "globex-ui",
    "domain": "globex-ui.localhost",
    "timezone": "America/New_York",
    "currency": "usd",
    "admin_email": "It@Globex.example",
}


@pytest.fixture
def operator(db) -> User:
    return User.objects.get(email="operator@platform.example")


@pytest.fixture
def op_client(platform_client: Client, operator: User) -> Client:
    platform_client.force_login(operator)
    return platform_client


def counts() -> tuple[int, int, int]:
    return Vendor.objects.count(), Domain.objects.count(), AuditEntry.objects.count()


@pytest.fixture
def schema_must_be_gone_afterwards(django_db_blocker):
    """Checked after the `db` fixture has rolled back (this fixture is set up before it, so it is
    torn down after it): the schema created inside the test must be gone, because DDL is
    transactional in PostgreSQL. Should that ever change, drop it and fail loudly."""
    created: list[str] = []
    yield created
    with django_db_blocker.unblock():
        connection.set_schema_to_public()
        leftovers = [name for name in created if schema_exists(name)]
        with connection.cursor() as cursor:
            for name in leftovers:
                cursor.execute(f'DROP SCHEMA "{name}" CASCADE')
            cursor.execute("SELECT count(*) FROM tenancy_vendor WHERE slug = %s", [VALID["slug"]])
            vendor_rows = cursor.fetchone()[0]
    assert leftovers == [], "schema DDL survived the test transaction"
    assert vendor_rows == 0


# -- access ---------------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/operator/", "/operator/vendors/new/", "/operator/audit-log/"])
def test_anonymous_is_sent_to_login(platform_client, path):
    response = platform_client.get(path)
    assert response.status_code == 302
    assert response["Location"] == f"/accounts/login/?next={path}"


@pytest.mark.django_db
def test_non_staff_user_is_refused_and_nothing_is_created(platform_client):
    user = User.objects.create_user("someone@platform.example", "x-long-password-123")
    platform_client.force_login(user)
    before = counts()
    for path in ["/operator/", "/operator/vendors/new/", "/operator/audit-log/"]:
        assert platform_client.get(path).status_code == 403, path
    response = platform_client.post("/operator/vendors/new/", VALID)
    assert response.status_code == 403
    assert counts() == before
    assert not schema_exists("v_globex_ui")


@pytest.mark.django_db
def test_non_staff_cannot_suspend(platform_client, vendor_b):
    user = User.objects.create_user("someone@platform.example", "x-long-password-123")
    platform_client.force_login(user)
    response = platform_client.post(
        f"/operator/vendors/{vendor_b.vendor.pk}/suspend/", {"reason": "no"}
    )
    assert response.status_code == 403
    vendor_b.vendor.refresh_from_db()
    assert vendor_b.vendor.status == "active"
    assert host_client(vendor_b.host).get("/healthz").status_code == 200


@pytest.mark.django_db
def test_vendor_staff_on_a_vendor_host_cannot_reach_the_operator_area(client_a):
    # The operator URLs exist only on the platform host.
    assert client_a.get("/operator/").status_code == 404


# -- list -----------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_vendor_list_shows_every_vendor(
    op_client, vendor_a, vendor_b, django_assert_max_num_queries
):
    with django_assert_max_num_queries(8):
        response = op_client.get("/operator/")
    assert response.status_code == 200
    assert [v.slug for v in response.context["vendors"]] == ["vendor-a", "vendor-b"]
    html = response.content.decode()
    row = html[html.index(">Vendor A</a>") : html.index("</tr>", html.index(">Vendor A</a>"))]
    assert '<td class="mono" data-label="Slug">vendor-a</td>' in row
    assert '<td data-label="Domains">vendor-a.localhost</td>' in row
    assert '<span class="badge badge-status badge-success">Active</span>' in row
    assert '<td data-label="Time zone">Europe/Berlin</td>' in row
    assert '<td data-label="Currency">EUR</td>' in row
    assert "Platform" not in row  # the public tenant is not a vendor


# -- create ---------------------------------------------------------------------------------------


def test_create_vendor(schema_must_be_gone_afterwards, db, op_client, operator):
    schema_must_be_gone_afterwards.append("v_globex_ui")
    vendors, domains, audits = counts()
    form = op_client.get("/operator/vendors/new/")
    assert form.status_code == 200
    assert '<option value="Europe/Berlin">Europe/Berlin</option>' in form.content.decode()

    response = op_client.post("/operator/vendors/new/", VALID)

    vendor = Vendor.objects.get(slug="globex-ui")
    assert response.status_code == 302
    assert response["Location"] == f"/operator/vendors/{vendor.pk}/"
    assert (vendor.name, vendor.schema_name, vendor.timezone, vendor.default_currency) == (
        "Globex Software",
        "v_globex_ui",
        "America/New_York",
        "USD",
    )
    assert list(vendor.domains.values_list("domain", "is_primary")) == [
        ("globex-ui.localhost", True)
    ]
    assert schema_exists("v_globex_ui")
    assert counts() == (vendors + 1, domains + 1, audits + 1)
    entry = AuditEntry.objects.get(action="vendor.created", object_id=str(vendor.pk))
    assert (entry.actor_kind, entry.actor_id, entry.actor_label) == (
        "user",
        operator.pk,
        "operator@platform.example",
    )
    # The first admin is invited inside the new vendor's schema, with a link on its domain.
    with schema_context("v_globex_ui"):
        invitation = Invitation.objects.get()
        assert (invitation.email, invitation.vendor_role) == ("it@globex.example", "admin")
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["it@globex.example"]
    assert "http://globex-ui.localhost/accounts/invitations/" in mail.outbox[0].body
    # The new vendor's host is served right away.
    assert host_client("globex-ui.localhost").get("/healthz").status_code == 200
    connection.set_schema_to_public()

    detail = op_client.get(response["Location"]).content.decode()
    assert (
        "Globex Software was created with its own schema; it@globex.example was invited as its "
        "first admin." in detail
    )
    assert '<dd class="mono">v_globex_ui</dd>' in detail
    assert 'href="http://globex-ui.localhost/console/"' in detail


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("change", "error"),
    [
        (
            {"slug": "Bad Slug"},
            "Slug must be 2–41 lowercase letters, digits or dashes, starting with a letter.",
        ),
        ({"domain": "vendor-a.localhost"}, "The domain “vendor-a.localhost” is already taken."),
        ({"slug": "vendor-a"}, "A vendor with the slug “vendor-a” already exists."),
        ({"domain": "not a host"}, "“not a host” is not a valid host name."),
        ({"currency": "XYZ"}, "“XYZ” is not an ISO 4217 currency code (e.g. USD)."),
        ({"name": "   "}, "This field is required."),
        ({"timezone": "Mars/Olympus"}, "Select a valid choice. Mars/Olympus is not one of"),
        ({"admin_email": "not-an-email"}, "Enter a valid email address."),
    ],
)
def test_bad_input_saves_nothing(op_client, vendor_a, change, error):
    before = counts()
    response = op_client.post("/operator/vendors/new/", {**VALID, **change})
    assert response.status_code == 200
    assert error in response.content.decode()
    assert counts() == before
    assert not schema_exists("v_globex_ui")
    assert not Vendor.objects.filter(slug=VALID["slug"]).exists()


@pytest.mark.django_db
def test_service_errors_are_form_errors(op_client, vendor_a):
    response = op_client.post("/operator/vendors/new/", {**VALID, "slug": "vendor-a"})
    html = response.content.decode()
    assert '<div class="form-errors" role="alert">' in html
    # The form keeps what was typed.
    assert 'value="Globex Software"' in html


# -- suspend / reactivate -------------------------------------------------------------------------


@pytest.mark.django_db
def test_suspend_makes_the_vendor_host_answer_503(op_client, vendor_b, operator):
    vendor = vendor_b.vendor
    assert host_client(vendor_b.host).get("/healthz").status_code == 200

    response = op_client.post(
        f"/operator/vendors/{vendor.pk}/suspend/", {"reason": "  Unpaid platform fees  "}
    )

    assert response.status_code == 302
    vendor.refresh_from_db()
    assert (vendor.status, vendor.status_reason) == ("suspended", "Unpaid platform fees")
    site = host_client(vendor_b.host)
    page = site.get("/console/")
    assert page.status_code == 503
    assert "<h1>Vendor B is suspended</h1>" in page.content.decode()
    api = site.get("/api/v1/api-keys/")
    assert api.status_code == 503
    assert api.json()["title"] == "Vendor suspended"
    # The vendor host's requests left this connection on the vendor's schema.
    connection.set_schema_to_public()
    entry = AuditEntry.objects.get(action="vendor.suspended", object_id=str(vendor.pk))
    assert entry.before == {"status": "active", "status_reason": ""}
    assert entry.after == {"status": "suspended", "status_reason": "Unpaid platform fees"}
    assert entry.actor_label == "operator@platform.example"

    detail = op_client.get(f"/operator/vendors/{vendor.pk}/").content.decode()
    assert '<span class="badge badge-status badge-danger">Suspended</span>' in detail
    assert "Reactivate Vendor B" in detail

    response = op_client.post(f"/operator/vendors/{vendor.pk}/reactivate/")
    assert response.status_code == 302
    vendor.refresh_from_db()
    assert (vendor.status, vendor.status_reason) == ("active", "")
    assert host_client(vendor_b.host).get("/healthz").status_code == 200


@pytest.mark.django_db
def test_suspend_needs_a_reason(op_client, vendor_b):
    audits = AuditEntry.objects.count()
    response = op_client.post(f"/operator/vendors/{vendor_b.vendor.pk}/suspend/", {"reason": "  "})
    assert response.status_code == 200
    assert "This field is required." in response.content.decode()
    vendor_b.vendor.refresh_from_db()
    assert vendor_b.vendor.status == "active"
    assert AuditEntry.objects.count() == audits


@pytest.mark.django_db
def test_suspending_twice_is_a_readable_error(op_client, vendor_b):
    url = f"/operator/vendors/{vendor_b.vendor.pk}/suspend/"
    op_client.post(url, {"reason": "first"})
    audits = AuditEntry.objects.count()
    response = op_client.post(url, {"reason": "second"})
    assert response.status_code == 200
    assert "Vendor B is already suspended." in response.content.decode()
    vendor_b.vendor.refresh_from_db()
    assert vendor_b.vendor.status_reason == "first"
    assert AuditEntry.objects.count() == audits


@pytest.mark.django_db
def test_suspend_and_reactivate_are_post_only(op_client, vendor_b):
    assert op_client.get(f"/operator/vendors/{vendor_b.vendor.pk}/suspend/").status_code == 405
    assert op_client.get(f"/operator/vendors/{vendor_b.vendor.pk}/reactivate/").status_code == 405


@pytest.mark.django_db
def test_the_platform_tenant_is_not_a_vendor_page(op_client):
    public = Vendor.objects.get(schema_name="public")
    assert op_client.get(f"/operator/vendors/{public.pk}/").status_code == 404
    response = op_client.post(f"/operator/vendors/{public.pk}/suspend/", {"reason": "x"})
    assert response.status_code == 404
    public.refresh_from_db()
    assert public.status == "active"


# -- platform audit log ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_platform_audit_log_lists_public_schema_entries(op_client, vendor_b):
    op_client.post(f"/operator/vendors/{vendor_b.vendor.pk}/suspend/", {"reason": "Fraud check"})
    response = op_client.get("/operator/audit-log/", {"action": "vendor.suspended"})
    assert response.status_code == 200
    entries = response.context["entries"]
    assert [(e.action, e.object_repr) for e in entries] == [("vendor.suspended", "Vendor B")]
    html = response.content.decode()
    assert "<h1>Platform audit log</h1>" in html
    assert '<td class="diff-before">active</td>' in html
    assert '<td class="diff-after">suspended</td>' in html
