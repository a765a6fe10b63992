"""Create a vendor tenant (operators' CLI). Prints the vendor, or JSON with --json."""

import json

from django.core.management.base import BaseCommand, CommandError

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
        parser.add_argument("--json", action="store_true", help="print the vendor as JSON")

    def handle(self, *args, **options):
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
        data = {
            "id": vendor.pk,
            "name": vendor.name,
            "slug": vendor.slug,
            "schema": vendor.schema_name,
            "domain": options["domain"].strip().lower(),
            "timezone": vendor.timezone,
            "currency": vendor.default_currency,
            "status": vendor.status,
        }
        if options["json"]:
            self.stdout.write(json.dumps(data))
        else:
            self.stdout.write(
                self.style.SUCCESS(
                    f"Created vendor {vendor.name} ({vendor.slug}) at {data['domain']}"
                )
            )
