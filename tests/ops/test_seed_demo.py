"""`manage.py seed_demo`: the demo vendor, its users and an operator; a second run changes nothing.

vendor_create clones a schema inside the test's transaction; DDL is transactional in PostgreSQL,
so the `db` fixture's rollback removes the demo schema again."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.db.models import Count
from django_tenants.utils import schema_context

from accounts.models import User
from core.models import AuditEntry
from demo.services import OPERATOR_LOGIN, VENDOR_LOGINS
from partners.models import Application, Client, Partner, PartnerMembership, Tier, Track
from tenancy.models import Domain, Vendor
from tests.conftest import PLATFORM_HOST, host_client

pytestmark = pytest.mark.django_db


def seed(port: int = 8123) -> str:
    out = StringIO()
    call_command("seed_demo", "--port", str(port), stdout=out)
    return out.getvalue()


def state() -> dict:
    """Every row seed_demo could touch, in full."""
    vendor = Vendor.objects.get(slug="acme")
    with schema_context(vendor.schema_name):
        vendor_users = list(User.objects.order_by("email").values())
        vendor_audit = list(AuditEntry.objects.order_by("id").values_list("id", "action"))
        partners = list(Partner.objects.order_by("id").values())
        clients = Client.objects.count()
    with schema_context("public"):
        return {
            "vendors": list(Vendor.objects.order_by("id").values()),
            "domains": list(Domain.objects.order_by("id").values()),
            "public_users": list(User.objects.order_by("email").values()),
            "public_audit": list(AuditEntry.objects.order_by("id").values_list("id", "action")),
            "vendor_users": vendor_users,
            "vendor_audit": vendor_audit,
            "partners": partners,
            "clients": clients,
        }


def test_seed_demo_creates_the_demo_vendor_and_users():
    assert not Vendor.objects.filter(slug="acme").exists()
    output = seed()

    vendor = Vendor.objects.get(slug="acme")
    assert (vendor.name, vendor.schema_name, vendor.timezone, vendor.default_currency) == (
        "Acme Security",
        "v_acme",
        "Europe/Berlin",
        "EUR",
    )
    assert vendor.get_primary_domain().domain == "acme.localhost"
    with schema_context("v_acme"):
        logins = [login.email for login in VENDOR_LOGINS]
        users = {u.email: u for u in User.objects.filter(email__in=logins)}
        assert {e: u.vendor_role for e, u in users.items()} == {
            "admin@acme.example": "admin",
            "channel@acme.example": "channel_manager",
            "finance@acme.example": "finance",
            "owner@northwind-it.example": "",
        }
        assert not any(u.is_staff or u.is_superuser for u in users.values())
        for login in VENDOR_LOGINS:
            assert users[login.email].check_password(login.password)
        assert AuditEntry.objects.filter(action="user.created", object_repr__in=logins).count() == 4
        # The partner program: 2 tracks × 4 tiers, partners in every lifecycle state.
        assert Track.objects.count() == 2 and Tier.objects.count() == 8
        assert dict(Partner.objects.values_list("status").annotate(n=Count("id")).order_by()) == {
            "active": 15,
            "applied": 2,
            "onboarding": 5,
            "suspended": 2,
            "terminated": 1,
        }
        assert Client.objects.count() == 471
        assert dict(
            Application.objects.values_list("status").annotate(n=Count("id")).order_by()
        ) == {"pending": 3, "rejected": 1}
        northwind = PartnerMembership.objects.get(user__email="owner@northwind-it.example")
        assert (northwind.partner.name, northwind.role, northwind.partner.status) == (
            "Northwind IT",
            "owner",
            "active",
        )
        assert northwind.partner.clients.count() == 40
    with schema_context("public"):
        operator = User.objects.get(email=OPERATOR_LOGIN.email)
        assert operator.is_staff and operator.is_superuser and operator.vendor_role == ""
        assert operator.check_password(OPERATOR_LOGIN.password)
        # Vendor users do not exist in the public schema.
        assert not User.objects.filter(email="admin@acme.example").exists()

    assert output.splitlines()[0] == "Demo data: created 8 object(s)."
    for expected in (
        "http://acme.localhost:8123/console/",
        "http://acme.localhost:8123/portal/",
        "http://localhost:8123/operator/",
        "http://acme.localhost:8123/api/v1/docs/",
        "admin@acme.example               password acme-admin-demo",
        "owner@northwind-it.example       password northwind-msp-demo",
        "operator@msp-platform.example    password platform-operator-demo",
    ):
        assert expected in output


def test_seed_demo_twice_changes_nothing_and_prints_the_same_logins():
    first = seed()
    before = state()
    second = seed()
    assert state() == before
    assert second.splitlines()[0] == "Demo data already in place; nothing changed."
    assert first.splitlines()[1:] == second.splitlines()[1:]


def test_seed_demo_leaves_a_changed_password_alone_and_says_so():
    seed()
    with schema_context("v_acme"):
        user = User.objects.get(email="finance@acme.example")
        user.set_password("something-else-entirely")
        user.save()
    output = seed()
    with schema_context("v_acme"):
        assert User.objects.get(email="finance@acme.example").check_password(
            "something-else-entirely"
        )
    line = next(line for line in output.splitlines() if "finance@acme.example" in line)
    assert line.endswith("(changed since seeding)")


def test_port_80_is_left_out_of_urls():
    output = seed(port=80)
    assert "http://acme.localhost/console/" in output
    assert "http://localhost/operator/" in output


def sign_in(host: str, email: str, password: str, next_url: str):
    """The sign-in form on `host`; posts both `email` and `username` so that it does not depend
    on the form's field name."""
    client = host_client(host)
    response = client.post(
        f"/accounts/login/?next={next_url}",
        {"email": email, "username": email, "password": password},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert response["Location"] == next_url
    return client


def test_demo_logins_work_in_the_browser_flows():
    seed()
    console = sign_in("acme.localhost", "admin@acme.example", "acme-admin-demo", "/console/")
    assert console.get("/console/").status_code == 200

    portal = sign_in(
        "acme.localhost", "owner@northwind-it.example", "northwind-msp-demo", "/portal/"
    )
    assert portal.get("/portal/").status_code == 200
    assert portal.get("/console/").status_code == 403

    operator = sign_in(PLATFORM_HOST, OPERATOR_LOGIN.email, OPERATOR_LOGIN.password, "/operator/")
    response = operator.get("/operator/")
    assert response.status_code == 200
    assert "Acme Security" in response.content.decode()
