"""Benchmark: what choosing the vendor from the host costs per request.

    python -m benchmarks.tenant_routing [--requests 2000] [--warmup 200]

Two authenticated GETs (`Authorization: Bearer <key>`), each served in-process through a WSGI
call with the full middleware stack:

- `ping`: a trivial DRF view defined here (API-key authentication, permission and throttle run,
  then `{"ok": true}`), mounted next to the real URLconf;
- `api-keys/{id}`: the real retrieve view of /api/v1/api-keys/{id}/.

Each is served by two handlers: with `tenancy.middleware.VendorMiddleware` (host → vendor through
its routing cache, then `set_tenant`, which costs one `SET search_path`), and with the same stack
minus that middleware, the connection's tenant set once up front. Requests alternate between the
two (order flipped every iteration) after a warm-up; the verdict is the ratio of the medians of
the trivial view. Target: ≤ 1.15×. Also printed: `SET search_path` statements per request, read
from the backend's counter (expected: exactly 1 with the middleware, 0 without), and separately
the requests that refreshed the routing cache (one per ROUTING_TTL_SECONDS), which cost 2.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import time

from benchmarks._support import bench_database, median_ms, percentile_ms, print_table, verdict

TARGET = 1.15
HOST = "bench-routing.localhost"
VENDOR_MIDDLEWARE = "tenancy.middleware.VendorMiddleware"

urlpatterns: list = []  # filled in by _build_urlconf() once Django is set up


def _build_urlconf() -> None:
    from django.urls import include, path
    from rest_framework.response import Response
    from rest_framework.views import APIView

    class Ping(APIView):
        """Authenticated (API key), permission-checked and throttled; no query of its own."""

        def get(self, request):
            return Response({"ok": True})

    urlpatterns[:] = [
        path("api/v1/ping/", Ping.as_view()),
        path("", include("msp_program.urls_tenants")),
    ]


def _environ(path: str, secret: str) -> dict:
    return {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SCRIPT_NAME": "",
        "SERVER_NAME": HOST,
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": HOST,
        "HTTP_AUTHORIZATION": f"Bearer {secret}",
        "HTTP_ACCEPT": "application/json",
        "REMOTE_ADDR": "127.0.0.1",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }


class Variant:
    def __init__(self, name: str, handler, environ: dict) -> None:
        self.name = name
        self.handler = handler
        self.environ = environ
        self.samples: list[int] = []
        self.set_counts: list[int] = []
        self.lookups: list[int] = []  # routing-cache misses: host looked up in the public schema

    def call(self) -> tuple[str, bytes]:
        environ = dict(self.environ)
        environ["wsgi.input"] = io.BytesIO(b"")
        statuses: list[str] = []

        def start_response(status, headers, exc_info=None):
            statuses.append(status)

        response = self.handler(environ, start_response)
        try:
            body = b"".join(response)
        finally:
            response.close()
        return statuses[0], body

    def measure(self) -> None:
        from django.db import connection

        sets_before, lookups_before = connection.search_path_set_count, DOMAIN_LOOKUPS[0]
        started = time.perf_counter_ns()
        status, _body = self.call()
        elapsed = time.perf_counter_ns() - started
        if not status.startswith("200"):
            raise RuntimeError(f"{self.name}: {status}")
        self.samples.append(elapsed)
        self.set_counts.append(connection.search_path_set_count - sets_before)
        self.lookups.append(DOMAIN_LOOKUPS[0] - lookups_before)


DOMAIN_LOOKUPS = [0]


def _count_domain_lookups() -> None:
    """Count the routing cache's misses (django-tenants' host → vendor query)."""
    from django_tenants.middleware.main import TenantMainMiddleware

    lookup = TenantMainMiddleware.get_tenant

    def counted(self, domain_model, hostname):
        DOMAIN_LOOKUPS[0] += 1
        return lookup(self, domain_model, hostname)

    TenantMainMiddleware.get_tenant = counted


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000, help="timed requests per variant")
    parser.add_argument("--warmup", type=int, default=200)
    args = parser.parse_args()
    # One connection for the whole run (production's default closes it after 60 s idle or age).
    os.environ.setdefault("DATABASE_CONN_MAX_AGE", "3600")

    with bench_database() as database:
        from django.conf import settings
        from django.core.handlers.wsgi import WSGIHandler
        from django.db import connection
        from django.test.utils import override_settings
        from django_tenants.utils import schema_context
        from rest_framework.throttling import SimpleRateThrottle

        from accounts.services.api_keys import api_key_create
        from core.actors import Actor
        from tenancy.middleware import ROUTING_TTL_SECONDS
        from tenancy.services import vendor_create

        _build_urlconf()
        _count_domain_lookups()
        vendor = vendor_create(
            name="Bench Routing", slug="bench-routing", domain=HOST, actor=Actor.system("bench")
        )
        with schema_context(vendor.schema_name):
            issued = api_key_create(name="bench", actor=Actor.system("bench"))
        # The throttle stays in the stack (same work per request), just never trips.
        SimpleRateThrottle.THROTTLE_RATES = {"api_key": "100000000/min"}

        with override_settings(ROOT_URLCONF=__name__, DEBUG=False):
            with_tenant_mw = WSGIHandler()
            without = [m for m in settings.MIDDLEWARE if m != VENDOR_MIDDLEWARE]
            assert len(without) == len(settings.MIDDLEWARE) - 1
            with override_settings(MIDDLEWARE=without):
                without_tenant_mw = WSGIHandler()
            connection.set_tenant(vendor)  # the "without" handler's tenant, set once up front

            pairs = {}
            for label, path in [
                ("ping", "/api/v1/ping/"),
                ("api-keys/{id}", f"/api/v1/api-keys/{issued.api_key.pk}/"),
            ]:
                environ = _environ(path, issued.secret)
                pairs[label] = (
                    Variant("with VendorMiddleware", with_tenant_mw, environ),
                    Variant("without (tenant set up front)", without_tenant_mw, environ),
                )

            # Both handlers answer the same thing.
            for with_mw, without_mw in pairs.values():
                assert with_mw.call() == without_mw.call(), "the two stacks disagree"

            for label, (with_mw, without_mw) in pairs.items():
                for _ in range(args.warmup):
                    with_mw.call()
                    without_mw.call()
                for i in range(args.requests):
                    first, second = (with_mw, without_mw) if i % 2 == 0 else (without_mw, with_mw)
                    first.measure()
                    second.measure()
                print(f"  {label}: done", file=sys.stderr)

    print(
        f"\ntenant routing — {args.requests} requests per variant after {args.warmup} warm-up, "
        f"interleaved, in-process WSGI; database {database}"
    )
    rows = []
    for label, (with_mw, without_mw) in pairs.items():
        base = median_ms(without_mw.samples)
        for variant in (without_mw, with_mw):
            sets = variant.set_counts
            rows.append(
                [
                    label,
                    variant.name,
                    f"{median_ms(variant.samples):7.3f}",
                    f"{percentile_ms(variant.samples, 0.9):7.3f}",
                    f"{sum(sets) / len(sets):.3f}",
                    f"{min(sets)}–{max(sets)}",
                    str(sum(variant.lookups)),
                    f"{median_ms(variant.samples) / base:5.3f}×",
                ]
            )
    print_table(
        ["view", "stack", "median ms", "p90 ms", "SET/req", "SET range", "host lookups", "ratio"],
        rows,
    )
    with_mw, without_mw = pairs["ping"]
    ratio = median_ms(with_mw.samples) / median_ms(without_mw.samples)
    extra_us = (median_ms(with_mw.samples) - median_ms(without_mw.samples)) * 1000
    print(
        f"\nratio with / without VendorMiddleware (ping) = {ratio:.3f}×  (target ≤ {TARGET}×)  "
        f"{verdict(ratio, TARGET)};  +{extra_us:.0f} µs per request"
    )
    # With the routing cache hot a request costs exactly one SET search_path. Every
    # ROUTING_TTL_SECONDS the entry expires and one request looks the host up again in the
    # public schema: SET public, the domain query, SET to the vendor — two SETs on that request.
    hits = misses = 0
    exact = True
    for with_mw, _without in pairs.values():
        for sets, lookups in zip(with_mw.set_counts, with_mw.lookups, strict=True):
            hits += lookups == 0
            misses += lookups > 0
            exact &= sets == (1 if lookups == 0 else 2)
    print(
        f"SET search_path per request with the middleware: 1 on each of {hits} routing-cache "
        f"hits, 2 on each of {misses} refreshes (entry TTL {ROUTING_TTL_SECONDS:g} s)  "
        f"{'PASS' if exact else 'FAIL'}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
