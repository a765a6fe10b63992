"""Create the demo vendor "Acme Security", its users and a platform operator, then print where to
log in. Idempotent: a second run changes nothing and prints the same logins."""

from __future__ import annotations

import os

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from core.actors import Actor
from demo.services import DemoSeed, EnsuredUser, demo_seed
from tenancy.errors import VendorError


def base_url(host: str, port: int) -> str:
    return f"http://{host}" if port == 80 else f"http://{host}:{port}"


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser):
        parser.add_argument(
            "--port",
            type=int,
            default=int(os.environ.get("PORT", "8000")),
            help="the web server's port, for the printed URLs (default: $PORT or 8000)",
        )

    def handle(self, *args, **options):
        try:
            seed = demo_seed(actor=Actor.system("manage.py seed_demo"))
        except VendorError as exc:
            raise CommandError(str(exc)) from exc
        if seed.created_count:
            self.stdout.write(
                self.style.SUCCESS(f"Demo data: created {seed.created_count} object(s).")
            )
        else:
            self.stdout.write("Demo data already in place; nothing changed.")
        self.stdout.write(self.login_block(seed, options["port"]))

    def login_block(self, seed: DemoSeed, port: int) -> str:
        vendor_url = base_url(seed.vendor.get_primary_domain().domain, port)
        platform_url = base_url(settings.PLATFORM_DOMAIN, port)
        staff = [u for u in seed.vendor_users if u.login.vendor_role]
        partners = [u for u in seed.vendor_users if not u.login.vendor_role]
        lines = [
            "",
            f"  {seed.vendor.name} (vendor '{seed.vendor.slug}', "
            f"{seed.vendor.timezone}, {seed.vendor.default_currency})",
            "",
            f"  Vendor console   {vendor_url}/console/",
            *[self.login_line(u) for u in staff],
            "",
            f"  Partner portal   {vendor_url}/portal/",
            *[self.login_line(u) for u in partners],
            "",
            f"  Operator area    {platform_url}/operator/",
            self.login_line(seed.operator),
            "",
            f"  API docs         {vendor_url}/api/v1/docs/",
            f"  API key          manage.py create_api_key --vendor {seed.vendor.slug} --name demo",
            "",
        ]
        return "\n".join(lines)

    @staticmethod
    def login_line(ensured: EnsuredUser) -> str:
        login = ensured.login
        line = f"    {login.label + ':':<18} {login.email:<32} password {login.password}"
        if not ensured.password_matches:
            line += "  (changed since seeding)"
        return line
