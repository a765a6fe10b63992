"""Test tenants are created once per session (committed, so worker processes and the live server
see them): the platform's public tenant, vendor A and vendor B, each with an admin user."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass

import pytest
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django_tenants.utils import schema_context

from accounts.enums import VendorRole
from accounts.models import User
from accounts.services.api_keys import api_key_create
from core.actors import Actor
from tenancy.middleware import forget_vendor_routing
from tenancy.models import Vendor
from tenancy.services import public_tenant_ensure, template_schema_migrate, vendor_create

PASSWORD = "correct-horse-battery-staple"
PLATFORM_HOST = "platform.localhost"


@dataclass
class TestVendor:
    vendor: Vendor
    host: str
    admin_email: str

    @property
    def schema(self) -> str:
        return self.vendor.schema_name


def _make_vendor(slug: str, name: str) -> TestVendor:
    host = f"{slug}.localhost"
    vendor = Vendor.objects.filter(slug=slug).first() or vendor_create(
        name=name,
        slug=slug,
        domain=host,
        timezone="Europe/Berlin",
        currency="EUR",
        actor=Actor.system("tests"),
    )
    email = f"admin@{slug}.example"
    with schema_context(vendor.schema_name):
        if not User.objects.filter(email=email).exists():
            User.objects.create_user(
                email, PASSWORD, full_name=f"{name} Admin", vendor_role=VendorRole.ADMIN
            )
    return TestVendor(vendor=vendor, host=host, admin_email=email)


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        template_schema_migrate()
        public_tenant_ensure(domain=PLATFORM_HOST)
        with schema_context("public"):
            if not User.objects.filter(email="operator@platform.example").exists():
                User.objects.create_superuser("operator@platform.example", PASSWORD)
        _make_vendor("vendor-a", "Vendor A")
        _make_vendor("vendor-b", "Vendor B")
        connection.set_schema_to_public()


@pytest.fixture
def vendor_a(django_db_setup, django_db_blocker) -> TestVendor:
    with django_db_blocker.unblock():
        return _make_vendor("vendor-a", "Vendor A")


@pytest.fixture
def vendor_b(django_db_setup, django_db_blocker) -> TestVendor:
    with django_db_blocker.unblock():
        return _make_vendor("vendor-b", "Vendor B")


@pytest.fixture(autouse=True)
def _isolate_state():
    """Every test starts on the public schema with an empty cache and routing table."""
    connection.set_schema_to_public()
    forget_vendor_routing()
    cache.clear()
    yield
    connection.set_schema_to_public()
    forget_vendor_routing()


def host_client(host: str, **defaults) -> Client:
    return Client(HTTP_HOST=host, **defaults)


@pytest.fixture
def client_a(vendor_a) -> Client:
    return host_client(vendor_a.host)


@pytest.fixture
def client_b(vendor_b) -> Client:
    return host_client(vendor_b.host)


@pytest.fixture
def platform_client() -> Client:
    return host_client(PLATFORM_HOST)


def make_api_key(tv: TestVendor, name: str = "tests", partner_id: int | None = None) -> str:
    with schema_context(tv.schema):
        return api_key_create(name=name, actor=Actor.system("tests"), partner_id=partner_id).secret


@pytest.fixture
def api_a(db, vendor_a) -> Client:
    return host_client(vendor_a.host, HTTP_AUTHORIZATION=f"Bearer {make_api_key(vendor_a)}")


@pytest.fixture
def api_b(db, vendor_b) -> Client:
    return host_client(vendor_b.host, HTTP_AUTHORIZATION=f"Bearer {make_api_key(vendor_b)}")


def chromium_path() -> str | None:
    for candidate in (
        os.environ.get("CHROMIUM_PATH"),
        "/usr/bin/chromium",
        shutil.which("chromium"),
    ):
        if candidate and os.path.exists(candidate):
            return candidate
    return None
