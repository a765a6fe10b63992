"""Migrate everything: the public schema, the template schema new vendors are cloned from,
and every vendor's schema. Ensures the platform's own tenant row for PLATFORM_DOMAIN.
Safe to run repeatedly."""

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from tenancy.services import public_tenant_ensure, template_schema_migrate


class Command(BaseCommand):
    help = __doc__

    def handle(self, *args, **options):
        verbosity = options["verbosity"]
        call_command("migrate_schemas", shared=True, interactive=False, verbosity=verbosity)
        template_schema_migrate(verbosity=verbosity)
        call_command("migrate_schemas", tenant=True, interactive=False, verbosity=verbosity)
        public_tenant_ensure(domain=settings.PLATFORM_DOMAIN)
        self.stdout.write(self.style.SUCCESS("All schemas are migrated."))
