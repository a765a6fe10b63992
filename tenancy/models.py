"""Vendors are the tenants: each has its own PostgreSQL schema and one or more domains."""

from django.db import models
from django_tenants.models import DomainMixin, TenantMixin

from .enums import VendorStatus

PUBLIC_SCHEMA = "public"


class Vendor(TenantMixin):
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=50, unique=True)
    timezone = models.CharField(max_length=64, default="UTC")
    default_currency = models.CharField(max_length=3, default="USD")
    status = models.CharField(
        max_length=16, choices=VendorStatus.choices, default=VendorStatus.ACTIVE
    )
    status_reason = models.CharField(max_length=500, blank=True)
    # A vendor admin may require TOTP two-factor for every console user.
    require_console_2fa = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    # Schemas are created by the vendor_create service (clone of the template), never implicitly.
    auto_create_schema = False
    auto_drop_schema = False

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def is_public(self) -> bool:
        return self.schema_name == PUBLIC_SCHEMA

    @property
    def is_active(self) -> bool:
        return self.status == VendorStatus.ACTIVE


class Domain(DomainMixin):
    class Meta:
        ordering = ["domain"]

    def __str__(self) -> str:
        return self.domain
