"""Every write to vendors and domains. Each function is one transaction and writes its audit row."""

from __future__ import annotations

import functools
import re
import zoneinfo

from babel.numbers import is_currency
from django.conf import settings
from django.core.management import call_command
from django.db import connection, transaction
from django_tenants.utils import schema_context, schema_exists

from core.actors import Actor
from core.services.audit import audit_record, audited_update, snapshot

from .enums import VendorStatus
from .errors import VendorError
from .middleware import forget_vendor_routing
from .models import PUBLIC_SCHEMA, Domain, Vendor
from .schema_clone import clone_schema

_SLUG = re.compile(r"^[a-z][a-z0-9-]{1,40}$")
_DOMAIN = re.compile(
    r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$"
)


def template_schema_name() -> str:
    return settings.TENANT_BASE_SCHEMA


def template_schema_migrate(*, verbosity: int = 0) -> None:
    """Create the template schema when missing and bring it up to date with the migrations."""
    template = template_schema_name()
    if not schema_exists(template):
        with connection.cursor() as cursor:
            cursor.execute(f'CREATE SCHEMA "{template}"')
    call_command(
        "migrate_schemas", tenant=True, schema_name=template, interactive=False, verbosity=verbosity
    )


def public_tenant_ensure(*, domain: str) -> Vendor:
    """The public schema's own tenant row, which routes the platform site's host name."""
    with transaction.atomic():
        vendor, _ = Vendor.objects.get_or_create(
            schema_name=PUBLIC_SCHEMA,
            defaults={"name": "Platform", "slug": "platform"},
        )
        Domain.objects.get_or_create(domain=domain, defaults={"tenant": vendor, "is_primary": True})
    forget_vendor_routing()
    return vendor


@functools.cache
def _known_timezones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())  # reads the tz database: ~10 ms


def schema_name_for(slug: str) -> str:
    return "v_" + slug.replace("-", "_")


def _validate(*, name: str, slug: str, domain: str, timezone: str, currency: str) -> None:
    errors = []
    if not name.strip():
        errors.append("Name is required.")
    if not _SLUG.match(slug):
        errors.append(
            "Slug must be 2–41 lowercase letters, digits or dashes, starting with a letter."
        )
    if not _DOMAIN.match(domain):
        errors.append(f"“{domain}” is not a valid host name.")
    if timezone not in _known_timezones():
        errors.append(f"“{timezone}” is not a known time zone (e.g. Europe/Berlin).")
    # get_currency_name() echoes unknown codes ("XYZ") back instead of failing; is_currency()
    # checks the code against Babel's ISO 4217 list.
    if len(currency) != 3 or not currency.isupper() or not is_currency(currency):
        errors.append(f"“{currency}” is not an ISO 4217 currency code (e.g. USD).")
    if errors:
        raise VendorError(" ".join(errors))
    if Vendor.objects.filter(slug=slug).exists():
        raise VendorError(f"A vendor with the slug “{slug}” already exists.")
    if Domain.objects.filter(domain=domain).exists():
        raise VendorError(f"The domain “{domain}” is already taken.")


def vendor_create(
    *,
    name: str,
    slug: str,
    domain: str,
    timezone: str = "UTC",
    currency: str = "USD",
    actor: Actor,
) -> Vendor:
    """A new vendor tenant: its row, its primary domain and its schema, cloned from the template."""
    slug = slug.strip().lower()
    domain = domain.strip().lower()
    currency = currency.strip().upper()
    _validate(name=name, slug=slug, domain=domain, timezone=timezone, currency=currency)
    schema = schema_name_for(slug)
    if schema_exists(schema):
        raise VendorError(f"The schema “{schema}” already exists; pick another slug.")
    if not schema_exists(template_schema_name()):
        raise VendorError("The template schema is missing; run `manage.py migrate_platform`.")
    with transaction.atomic():
        vendor = Vendor.objects.create(
            schema_name=schema,
            name=name.strip(),
            slug=slug,
            timezone=timezone,
            default_currency=currency,
        )
        Domain.objects.create(domain=domain, tenant=vendor, is_primary=True)
        clone_schema(source=template_schema_name(), target=schema)
        audit_record(actor=actor, action="vendor.created", instance=vendor, after=snapshot(vendor))
    forget_vendor_routing()
    return vendor


def vendor_create_with_admin(
    *,
    name: str,
    slug: str,
    domain: str,
    timezone: str,
    currency: str,
    admin_email: str,
    invite_base: tuple[str, str],
    actor: Actor,
) -> Vendor:
    """A new vendor and the invitation of its first console admin, in one transaction: if the
    invitation cannot be made or sent, no vendor is left behind. `invite_base` is the scheme and
    optional port of the accept link, e.g. ("https", "") or ("http", ":8000")."""
    from accounts.enums import VendorRole
    from accounts.errors import AccountError
    from accounts.services.invitations import invitation_create

    scheme, port = invite_base
    with transaction.atomic():
        vendor = vendor_create(
            name=name, slug=slug, domain=domain, timezone=timezone, currency=currency, actor=actor
        )
        with schema_context(vendor.schema_name):
            try:
                invitation_create(
                    email=admin_email,
                    vendor_role=VendorRole.ADMIN,
                    invited_by=None,
                    actor=actor,
                    request_host=f"{domain.strip().lower()}{port}",
                    scheme=scheme,
                )
            except AccountError as exc:
                raise VendorError(f"First admin: {exc}") from exc
    forget_vendor_routing()
    return vendor


def _vendor_set_status(
    *, vendor: Vendor, status: str, reason: str, actor: Actor, action: str
) -> Vendor:
    with schema_context(PUBLIC_SCHEMA), transaction.atomic():
        locked = Vendor.objects.select_for_update().get(pk=vendor.pk)
        if locked.is_public:
            raise VendorError("The platform tenant cannot be suspended.")
        audited_update(
            locked,
            actor=actor,
            action=action,
            changes={"status": status, "status_reason": reason},
        )
    forget_vendor_routing()
    return locked


def vendor_suspend(*, vendor: Vendor, reason: str, actor: Actor) -> Vendor:
    if not reason.strip():
        raise VendorError("Give a reason for the suspension.")
    if vendor.status == VendorStatus.SUSPENDED:
        raise VendorError(f"{vendor.name} is already suspended.")
    return _vendor_set_status(
        vendor=vendor,
        status=VendorStatus.SUSPENDED,
        reason=reason.strip(),
        actor=actor,
        action="vendor.suspended",
    )


def vendor_reactivate(*, vendor: Vendor, actor: Actor) -> Vendor:
    if vendor.status == VendorStatus.ACTIVE:
        raise VendorError(f"{vendor.name} is already active.")
    return _vendor_set_status(
        vendor=vendor,
        status=VendorStatus.ACTIVE,
        reason="",
        actor=actor,
        action="vendor.reactivated",
    )


def vendor_set_console_2fa(*, vendor: Vendor, required: bool, actor: Actor) -> Vendor:
    """A vendor admin requires (or stops requiring) TOTP two-factor for console users."""
    with transaction.atomic():
        with schema_context(PUBLIC_SCHEMA):
            locked = Vendor.objects.select_for_update().get(pk=vendor.pk)
            before = snapshot(locked, ["require_console_2fa"])
            locked.require_console_2fa = required
            locked.save(update_fields=["require_console_2fa"])
        # The audit row belongs in the vendor's own log, where its admins read it.
        with schema_context(locked.schema_name):
            audit_record(
                actor=actor,
                action="vendor.2fa_policy_changed",
                instance=locked,
                before=before,
                after=snapshot(locked, ["require_console_2fa"]),
            )
    forget_vendor_routing()
    return locked
