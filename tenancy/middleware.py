"""Chooses the vendor (tenant) from the host name.

The host → vendor lookup is kept in a small per-process cache for a few seconds, so that a request
costs one `SET search_path` and no query in the public schema. Services that change a vendor or
its domains call `forget_vendor_routing`, which clears this process at once; other processes
follow within ROUTING_TTL_SECONDS.
"""

import threading
import time

from django.http import HttpResponse
from django.template.loader import render_to_string
from django_tenants.middleware.main import TenantMainMiddleware
from django_tenants.utils import remove_www

from core.api.problems import is_api_path, problem_response

from .models import Vendor

ROUTING_TTL_SECONDS = 5.0

_routes: dict[str, tuple[float, Vendor]] = {}
_routes_lock = threading.Lock()


def forget_vendor_routing() -> None:
    with _routes_lock:
        _routes.clear()


class VendorMiddleware(TenantMainMiddleware):
    @staticmethod
    def hostname_from_request(request):
        # Host names are case-insensitive; domains are stored lower-case by the services.
        return TenantMainMiddleware.hostname_from_request(request).lower()

    def get_tenant(self, domain_model, hostname):
        now = time.monotonic()
        cached = _routes.get(hostname)
        if cached is not None and now - cached[0] < ROUTING_TTL_SECONDS:
            return cached[1]
        vendor = super().get_tenant(domain_model, hostname)
        with _routes_lock:
            _routes[hostname] = (now, vendor)
        return vendor

    def process_request(self, request):
        response = super().process_request(request)
        if response is not None:
            return response
        vendor = request.tenant
        if not vendor.is_public and not vendor.is_active:
            detail = f"{vendor.name} is suspended on this platform."
            if is_api_path(request.path):
                return problem_response(503, "Vendor suspended", detail)
            html = render_to_string("errors/vendor_suspended.html", {"vendor": vendor})
            return HttpResponse(html, status=503)
        return None

    def no_tenant_found(self, request, hostname):
        detail = f"No vendor is served at {remove_www(hostname)}."
        if is_api_path(request.path):
            return problem_response(404, "Unknown host", detail)
        html = render_to_string("errors/unknown_host.html", {"hostname": hostname})
        return HttpResponse(html, status=404)
