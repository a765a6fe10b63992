"""Demo data for a fresh installation: the vendor "Acme Security", its staff, an MSP admin, its
partner program and billing (demo/program.py, demo/billing.py) and a platform operator. Every
function is idempotent: what exists already is left exactly as it is.

These helpers create users directly (`User.objects.create_user`), not through invitations: the
demo needs known passwords, which an invitation flow rightly never produces.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.hashers import check_password
from django.db import transaction
from django_tenants.utils import schema_context, tenant_context

from accounts.enums import VendorRole
from accounts.models import User
from core.actors import Actor
from core.services.audit import audit_record, snapshot
from tenancy.models import PUBLIC_SCHEMA, Vendor
from tenancy.services import vendor_create

DEMO_VENDOR_NAME = "Acme Security"
DEMO_VENDOR_SLUG = "acme"
DEMO_VENDOR_DOMAIN = "acme.localhost"
DEMO_VENDOR_TIMEZONE = "Europe/Berlin"
DEMO_VENDOR_CURRENCY = "EUR"


@dataclass(frozen=True)
class DemoLogin:
    """One demo account. `vendor_role` is blank for partner users and the platform operator."""

    label: str
    email: str
    password: str
    full_name: str
    vendor_role: str = ""
    operator: bool = False


# Users inside the demo vendor's schema.
VENDOR_LOGINS: tuple[DemoLogin, ...] = (
    DemoLogin(
        label="Vendor admin",
        email="admin@acme.example",
        password="acme-admin-demo",
        full_name="Ada Admin",
        vendor_role=VendorRole.ADMIN,
    ),
    DemoLogin(
        label="Channel manager",
        email="channel@acme.example",
        password="acme-channel-demo",
        full_name="Charlie Channel",
        vendor_role=VendorRole.CHANNEL_MANAGER,
    ),
    DemoLogin(
        label="Finance",
        email="finance@acme.example",
        password="acme-finance-demo",
        full_name="Fiona Finance",
        vendor_role=VendorRole.FINANCE,
    ),
    # A partner user: no vendor role; the demo program makes them owner of "Northwind IT".
    DemoLogin(
        label="MSP admin",
        email="owner@northwind-it.example",
        password="northwind-msp-demo",
        full_name="Nora Northwind",
    ),
)

# A platform operator in the public schema, for the operator area on the platform's own host.
OPERATOR_LOGIN = DemoLogin(
    label="Platform operator",
    email="operator@msp-platform.example",
    password="platform-operator-demo",
    full_name="Olive Operator",
    operator=True,
)


@dataclass(frozen=True)
class EnsuredUser:
    login: DemoLogin
    user: User
    created: bool
    # False when someone changed the password since seeding; the demo password will not work.
    password_matches: bool


@dataclass(frozen=True)
class DemoSeed:
    vendor: Vendor
    vendor_created: bool
    program_created: bool
    vendor_users: list[EnsuredUser]
    operator: EnsuredUser
    billing_created: bool = False

    @property
    def created_count(self) -> int:
        users = [*self.vendor_users, self.operator]
        return (
            int(self.vendor_created)
            + int(self.program_created)
            + int(self.billing_created)
            + sum(1 for u in users if u.created)
        )


def demo_vendor_ensure(*, actor: Actor) -> tuple[Vendor, bool]:
    """The demo vendor, created (schema cloned from the template) when missing."""
    with schema_context(PUBLIC_SCHEMA):
        existing = Vendor.objects.filter(slug=DEMO_VENDOR_SLUG).first()
        if existing is not None:
            return existing, False
        vendor = vendor_create(
            name=DEMO_VENDOR_NAME,
            slug=DEMO_VENDOR_SLUG,
            domain=DEMO_VENDOR_DOMAIN,
            timezone=DEMO_VENDOR_TIMEZONE,
            currency=DEMO_VENDOR_CURRENCY,
            actor=actor,
        )
        return vendor, True


def demo_user_ensure(*, login: DemoLogin, actor: Actor) -> EnsuredUser:
    """The login's user in the *current* schema; created with its demo password when missing.

    An existing user is never changed (not even its password), so re-seeding is harmless.
    """
    with transaction.atomic():
        user = User.objects.filter(email=login.email).first()
        if user is not None:
            # The module-level check_password never re-hashes or saves: a pure check.
            matches = check_password(login.password, user.password)
            return EnsuredUser(login=login, user=user, created=False, password_matches=matches)
        user = User.objects.create_user(
            login.email,
            login.password,
            full_name=login.full_name,
            vendor_role=login.vendor_role,
            is_staff=login.operator,
            is_superuser=login.operator,
        )
        audit_record(
            actor=actor,
            action="user.created",
            instance=user,
            after=snapshot(user, ["email", "full_name", "vendor_role", "is_staff"]),
        )
    return EnsuredUser(login=login, user=user, created=True, password_matches=True)


def demo_seed(*, actor: Actor) -> DemoSeed:
    """Everything the demo needs. Running it twice leaves the same rows as running it once."""
    from demo.billing import demo_billing_ensure
    from demo.program import demo_program_ensure

    vendor, vendor_created = demo_vendor_ensure(actor=actor)
    with schema_context(vendor.schema_name):
        vendor_users = [demo_user_ensure(login=login, actor=actor) for login in VENDOR_LOGINS]
        msp_admin = next(u.user for u in vendor_users if not u.login.vendor_role)
        program_created = demo_program_ensure(actor=actor, msp_admin=msp_admin)
    # Billing needs the vendor's timezone on the connection (its months are the vendor's).
    with tenant_context(vendor):
        billing_created = demo_billing_ensure(actor=actor)
    with schema_context(PUBLIC_SCHEMA):
        operator = demo_user_ensure(login=OPERATOR_LOGIN, actor=actor)
    return DemoSeed(
        vendor=vendor,
        vendor_created=vendor_created,
        program_created=program_created,
        vendor_users=vendor_users,
        operator=operator,
        billing_created=billing_created,
    )
