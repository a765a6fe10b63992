"""Create a vendor-scoped API key and print it (shown once)."""

import json

from django.core.management.base import BaseCommand, CommandError
from django_tenants.utils import schema_context

from accounts.errors import AccountError
from accounts.services.api_keys import api_key_create
from core.actors import Actor
from tenancy.models import Vendor


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser):
        parser.add_argument("--vendor", required=True, help="the vendor's slug")
        parser.add_argument("--name", required=True)
        parser.add_argument("--json", action="store_true")

    def handle(self, *args, **options):
        try:
            vendor = Vendor.objects.exclude(schema_name="public").get(slug=options["vendor"])
        except Vendor.DoesNotExist:
            raise CommandError(f"No vendor with the slug “{options['vendor']}”.") from None
        with schema_context(vendor.schema_name):
            try:
                issued = api_key_create(
                    name=options["name"], actor=Actor.system("manage.py create_api_key")
                )
            except AccountError as exc:
                raise CommandError(str(exc)) from exc
        if options["json"]:
            self.stdout.write(
                json.dumps(
                    {
                        "id": issued.api_key.pk,
                        "name": issued.api_key.name,
                        "vendor": vendor.slug,
                        "scope": issued.api_key.scope,
                        "key": issued.secret,
                    }
                )
            )
        else:
            self.stdout.write(issued.secret)
