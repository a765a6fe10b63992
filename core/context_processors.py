from django.conf import settings
from django.db import connection


def site(request):
    vendor = getattr(request, "tenant", None) or getattr(connection, "tenant", None)
    is_vendor = vendor is not None and getattr(vendor, "schema_name", "public") != "public"
    return {
        "vendor": vendor if is_vendor else None,
        "platform_domain": settings.PLATFORM_DOMAIN,
    }
