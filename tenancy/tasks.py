"""Beat fan-out: one periodic entry becomes one task per active vendor, in that vendor's schema."""

from celery import shared_task
from django.db import connection
from django_tenants.utils import schema_context

from .enums import VendorStatus
from .models import PUBLIC_SCHEMA, Vendor


@shared_task(name="tenancy.tasks.fan_out_to_vendors")
def fan_out_to_vendors(task_name: str) -> int:
    """Dispatch `task_name` once per active vendor; tenant-schemas-celery carries the schema."""
    from msp_program.celery import app

    count = 0
    schemas = (
        Vendor.objects.exclude(schema_name=PUBLIC_SCHEMA)
        .filter(status=VendorStatus.ACTIVE)
        .values_list("schema_name", flat=True)
    )
    for schema in list(schemas):
        with schema_context(schema):
            app.send_task(task_name, headers={"_schema_name": schema})
        count += 1
    return count


@shared_task(name="tenancy.tasks.vendor_probe")
def vendor_probe() -> dict:
    """Where a task really runs: the schema and vendor it sees. Used by ops checks and tests."""
    from django.contrib.auth import get_user_model

    vendor = connection.tenant
    return {
        "schema": connection.schema_name,
        "vendor": getattr(vendor, "slug", None),
        "users": list(get_user_model().objects.order_by("email").values_list("email", flat=True)),
    }
