"""Create a vendor tenant (operators' CLI). Prints the vendor, or JSON with --json.

With --admin-email, the vendor's first console admin is invited by email (accept link on the
vendor's domain); without it, invite one later from the operator area.
"""

import contextlib
import json
import sys

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.core.validators import validate_email
from django_tenants.utils import schema_context

from accounts.enums import VendorRole
from accounts.services.invitations import invitation_create
from core.actors import Actor
from tenancy.errors import VendorError
from tenancy.services import vendor_create


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser):
        parser.add_argument("--name", required=True)
        parser.add_argument("--slug", required=True)
        parser.add_argument("--domain", required=True)
        parser.add_argument("--timezone", default="UTC")
        parser.add_argument("--currency", default="USD")
        parser.add_argument("--admin-email", help="invite this address as the first console admin")
        parser.add_argument(
            "--invite-scheme",
            default="https",
            choices=["https", "http"],
            help="scheme of the invitation link (http for local development)",
        )
        parser.add_argument("--json", action="store_true", help="print the vendor as JSON")

    def handle(self, *args, **options):
        admin_email = (options.get("admin_email") or "").strip().lower()
        if admin_email:
            try:
                validate_email(admin_email)
            except ValidationError:
                raise CommandError(f"“{admin_email}” is not a valid email address.") from None
        try:
            vendor = vendor_create(
                name=options["name"],
                slug=options["slug"],
                domain=options["domain"],
                timezone=options["timezone"],
                currency=options["currency"],
                actor=Actor.system("manage.py create_vendor"),
            )
        except VendorError as exc:
            raise CommandError(str(exc)) from exc
        if admin_email:
            # With --json, stdout carries only the JSON; a console mail backend prints to stderr.
            redirect = contextlib.redirect_stdout(sys.stderr) if options["json"] else _nothing()
            with redirect, schema_context(vendor.schema_name):
                invitation_create(
                    email=admin_email,
                    vendor_role=VendorRole.ADMIN,
                    invited_by=None,
                    actor=Actor.system("manage.py create_vendor"),
                    request_host=options["domain"].strip().lower(),
                    scheme=options["invite_scheme"],
                )
        data = {
            "id": vendor.pk,
            "name": vendor.name,
            "slug": vendor.slug,
            "schema": vendor.schema_name,
            "domain": options["domain"].strip().lower(),
            "timezone": vendor.timezone,
            "currency": vendor.default_currency,
            "status": vendor.status,
            "admin_invited": admin_email or None,
        }
        if options["json"]:
            self.stdout.write(json.dumps(data))
        else:
            self.stdout.write(
                self.style.SUCCESS(
                    f"Created vendor {vendor.name} ({vendor.slug}) at {data['domain']}"
                )
            )


@contextlib.contextmanager
def _nothing():
    yield
