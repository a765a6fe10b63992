"""Benchmark: the portal's client list with 5,000 clients for the partner and 200,000 in the tenant.

    python -m benchmarks.portal_clients [--requests 200] [--warmup 20] [--explain]

Data: one vendor, 40 partners with 5,000 clients each (200,000 rows, written with COPY), then
ANALYZE. The measured partner is one of them, signed in as its owner (a session cookie).

Each request is served in-process through a WSGI call with the full middleware stack (host →
vendor, session, authentication, two-factor check, `portal_view`), and timed around the handler.
Variants of `/portal/clients/` (`portal:clients`): the first page, a deep page (page 90 of 100),
a status filter, a search, and a search + filter sorted by creation date on its 3rd page. The
baseline is a bare view behind the same `portal_view(Capability.VIEW)` gate returning a tiny
response (mounted here, next to the real URLconf). Requests alternate between each variant and
the baseline (order flipped every iteration) after a warm-up; the ratio is of the medians.
Target: every variant ≤ 3× the bare view. Also printed: queries per request and the median time
spent in SQL, so it is clear whether the database or Python (forms, templates) dominates;
`--explain` prints EXPLAIN (ANALYZE, BUFFERS) of every query of one request per variant.

Before timing, each variant's page is checked against the plain way of getting it (icontains on
name and external id, a COUNT, ORDER BY … OFFSET): the same count and the same rows, so a faster
page cannot be a different one.
"""

from __future__ import annotations

import argparse
import datetime
import io
import os
import random
import sys
import time

from benchmarks._support import bench_database, median_ms, percentile_ms, print_table, verdict

TARGET = 3.0
HOST = "bench-portal.localhost"
PARTNERS = 40
CLIENTS_PER_PARTNER = 5_000  # 40 × 5,000 = 200,000 in the tenant
WORDS = ["Harbor", "Summit", "Maple", "Cedar", "Orbit", "Pioneer", "Beacon", "Granite"]

VARIANTS = [
    ("first page", "/portal/clients/", ""),
    ("deep page (90/100)", "/portal/clients/", "page=90"),
    ("filter status=suspended", "/portal/clients/", "status=suspended"),
    ("search q=harbor", "/portal/clients/", "q=harbor"),
    (
        "search+filter, -created, p3",
        "/portal/clients/",
        "q=summit&status=active&sort=-created&page=3",
    ),
]
# Not judged: how much of a page is just the portal's shell (base template and navigation).
REFERENCE = ("reference: portal shell only", "/portal/_bench/shell/", "")
BARE_PATH = "/portal/_bench/bare/"

urlpatterns: list = []  # filled in by _build_urlconf() once Django is set up


def _build_urlconf() -> None:
    from django.http import HttpResponse
    from django.template import engines
    from django.urls import include, path

    from partners.access import portal_view
    from partners.permissions import Capability

    @portal_view(Capability.VIEW)
    def bare(request):
        """The same gate as every portal page (session, user, membership), then nothing."""
        return HttpResponse(b"ok", content_type="text/plain")

    shell_template = engines["django"].from_string(
        '{% extends "portal/base.html" %}{% block content %}<p>ok</p>{% endblock %}'
    )

    @portal_view(Capability.VIEW)
    def shell(request):
        """For reference: the portal's page shell (base template, navigation) around nothing."""
        return HttpResponse(shell_template.render({}, request))

    urlpatterns[:] = [
        path(BARE_PATH.lstrip("/"), bare),
        path(REFERENCE[1].lstrip("/"), shell),
        path("", include("msp_program.urls_tenants")),
    ]


def _environ(path: str, query: str, cookie: str) -> dict:
    return {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "SCRIPT_NAME": "",
        "SERVER_NAME": HOST,
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": HOST,
        "HTTP_COOKIE": cookie,
        "HTTP_ACCEPT": "text/html",
        "REMOTE_ADDR": "127.0.0.1",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }


class SqlClock:
    """Counts queries and the time spent in them (connection.execute_wrapper)."""

    def __init__(self) -> None:
        self.queries = 0
        self.ns = 0

    def __call__(self, execute, sql, params, many, context):
        started = time.perf_counter_ns()
        try:
            return execute(sql, params, many, context)
        finally:
            self.ns += time.perf_counter_ns() - started
            self.queries += 1


class Variant:
    def __init__(self, name: str, handler, environ: dict) -> None:
        self.name = name
        self.handler = handler
        self.environ = environ
        self.samples: list[int] = []
        self.sql_ns: list[int] = []
        self.queries: list[int] = []

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

    def measure(self, clock: SqlClock) -> None:
        queries, sql_ns = clock.queries, clock.ns
        started = time.perf_counter_ns()
        status, _body = self.call()
        elapsed = time.perf_counter_ns() - started
        if not status.startswith("200"):
            raise RuntimeError(f"{self.name}: {status}")
        self.samples.append(elapsed)
        self.queries.append(clock.queries - queries)
        self.sql_ns.append(clock.ns - sql_ns)


def _fill(schema: str) -> tuple[int, str]:
    """40 partners × 5,000 clients with COPY; returns (the measured partner's id, a cookie)."""
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore
    from django.db import connection
    from django.utils import timezone

    from accounts.enums import PartnerRole
    from accounts.models import User
    from partners.enums import ClientStatus, PartnerStatus
    from partners.models import Partner, PartnerMembership, Program, Tier, Track

    program = Program.objects.create(name="Bench Program")
    track = Track.objects.create(program=program, name="Managed", slug="managed")
    tier = Tier.objects.create(track=track, name="Registered", rank=1)
    partners = Partner.objects.bulk_create(
        Partner(
            name=f"Bench Partner {n:02d}",
            external_id=f"BP-{n:02d}",
            status=PartnerStatus.ACTIVE,
            status_since=datetime.date(2025, 1, 1),
            track=track,
            tier=tier,
            currency="EUR",
            country="DE",
        )
        for n in range(PARTNERS)
    )
    rng = random.Random(42)
    statuses = rng.choices(
        [
            ClientStatus.ACTIVE,
            ClientStatus.TRIAL,
            ClientStatus.NFR,
            ClientStatus.SUSPENDED,
            ClientStatus.CHURNED,
        ],
        weights=[70, 10, 5, 10, 5],
        k=PARTNERS * CLIENTS_PER_PARTNER,
    )
    tiers = ["Essentials", "Premium", "Enterprise", ""]
    now = timezone.now()
    columns = (
        "partner_id, name, external_id, status, service_tier, started_on, ended_on, "
        "created_at, updated_at"
    )
    with connection.cursor() as cursor:
        raw = cursor.cursor  # psycopg's own cursor, for COPY
        with raw.copy(f'COPY "{schema}".partners_client ({columns}) FROM STDIN') as copy:
            row = 0
            for partner in partners:
                for i in range(CLIENTS_PER_PARTNER):
                    status = statuses[row]
                    started = datetime.date(2024, 1, 1) + datetime.timedelta(
                        days=rng.randrange(900)
                    )
                    ended = started + datetime.timedelta(days=30) if status == "churned" else None
                    created = now - datetime.timedelta(minutes=rng.randrange(1_000_000))
                    copy.write_row(
                        (
                            partner.pk,
                            f"{rng.choice(WORDS)} {rng.choice(WORDS)} Client {i:05d}",
                            f"P{partner.pk}-{i:05d}",
                            status,
                            rng.choice(tiers),
                            started,
                            ended,
                            created,
                            created,
                        )
                    )
                    row += 1
        # As autovacuum would leave it: statistics, and a visibility map for index-only scans.
        cursor.execute(f'VACUUM ANALYZE "{schema}".partners_client')

    target = partners[PARTNERS // 2]
    user = User.objects.create_user("owner@bench-partner.example", "bench-password-1234")
    PartnerMembership.objects.create(user=user, partner=target, role=PartnerRole.OWNER)
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0]
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    return target.pk, f"{settings.SESSION_COOKIE_NAME}={session.session_key}"


def _plain_page(partner_id: int, query: str) -> tuple[int, list[int]]:
    """(how many clients match, the ids on the page) for a variant's query, the plain way."""
    from django.db.models import Q
    from django.http import QueryDict

    from partners.models import Client

    params = QueryDict(query)
    clients = Client.objects.filter(partner_id=partner_id)
    if params.get("q"):
        text = params["q"]
        clients = clients.filter(Q(name__icontains=text) | Q(external_id__icontains=text))
    if params.get("status"):
        clients = clients.filter(status=params["status"])
    order = {"": ("name", "id"), "-created": ("-created_at", "-id")}[params.get("sort", "")]
    start = (int(params.get("page", 1)) - 1) * 50
    ids = clients.order_by(*order).values_list("id", flat=True)[start : start + 50]
    return clients.count(), list(ids)


def _shown(html: str) -> tuple[int, list[int]]:
    """(the count in the list's summary, the ids of its rows)."""
    import re

    count = re.search(r'id="client-summary">Clients \d+–\d+ of (\d+)', html).group(1)
    return int(count), [int(pk) for pk in re.findall(r'<tr data-client-id="(\d+)">', html)]


def _explain(variant: Variant) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        variant.call()
    print(f"\n=== EXPLAIN — {variant.name}: {len(captured)} queries ===")
    with connection.cursor() as cursor:
        for query in captured.captured_queries:
            sql = query["sql"]
            if not sql.lstrip().upper().startswith("SELECT"):
                print(f"-- {sql[:120]}")
                continue
            cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}")
            plan = [row[0] for row in cursor.fetchall()]
            print(f"\n-- {sql[:300]}{'…' if len(sql) > 300 else ''}")
            for line in plan:
                print(f"   {line}")


def _profile(variant: Variant) -> None:
    import cProfile
    import pstats

    for _ in range(5):
        variant.call()
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(50):
        variant.call()
    profiler.disable()
    print(f"\n=== cProfile — {variant.name}, 50 requests, by cumulative time ===")
    pstats.Stats(profiler, stream=sys.stdout).sort_stats("cumulative").print_stats(30)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200, help="timed requests per variant")
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--explain", action="store_true", help="EXPLAIN ANALYZE every query")
    parser.add_argument(
        "--profile", action="store_true", help="cProfile 50 first-page requests, top 30 functions"
    )
    args = parser.parse_args()
    # One connection for the whole run (production's default closes it after 60 s idle or age).
    os.environ.setdefault("DATABASE_CONN_MAX_AGE", "3600")

    with bench_database() as database:
        from django.core.handlers.wsgi import WSGIHandler
        from django.db import connection
        from django.test.utils import override_settings
        from django_tenants.utils import schema_context

        from core.actors import Actor
        from partners.models import Client
        from tenancy.services import vendor_create

        _build_urlconf()
        vendor = vendor_create(
            name="Bench Portal", slug="bench-portal", domain=HOST, actor=Actor.system("bench")
        )
        started = time.perf_counter()
        with schema_context(vendor.schema_name):
            partner_id, cookie = _fill(vendor.schema_name)
            in_tenant = Client.objects.count()
            of_partner = Client.objects.filter(partner_id=partner_id).count()
        print(
            f"  data: {in_tenant:,} clients in the tenant, {of_partner:,} of the measured "
            f"partner ({time.perf_counter() - started:.1f} s)",
            file=sys.stderr,
        )

        clock = SqlClock()
        with (
            override_settings(ROOT_URLCONF=__name__, DEBUG=False),
            connection.execute_wrapper(clock),
        ):
            handler = WSGIHandler()
            pairs = []
            for label, path, query in [*VARIANTS, REFERENCE]:
                pairs.append(
                    (
                        Variant(label, handler, _environ(path, query, cookie)),
                        Variant("bare portal_view", handler, _environ(BARE_PATH, "", cookie)),
                    )
                )
            # Both answer, and the list really shows the partner's clients: the rows and the
            # count that the plain way (icontains, COUNT, OFFSET) finds.
            for (page, bare), (_label, _path, query) in zip(
                pairs, [*VARIANTS, REFERENCE], strict=True
            ):
                status, body = page.call()
                assert status.startswith("200"), (page.name, status)
                if page.name != REFERENCE[0]:
                    assert b"client-results" in body and b"Client " in body, page.name
                    with schema_context(vendor.schema_name):
                        expected = _plain_page(partner_id, query)
                    assert _shown(body.decode()) == expected, page.name
                assert bare.call() == ("200 OK", b"ok")

            if args.explain:
                for page, _bare in pairs[: len(VARIANTS)]:
                    _explain(page)
            if args.profile:
                _profile(pairs[0][0])

            for page, bare in pairs:
                for _ in range(args.warmup):
                    page.call()
                    bare.call()
                for i in range(args.requests):
                    first, second = (page, bare) if i % 2 == 0 else (bare, page)
                    first.measure(clock)
                    second.measure(clock)
                print(f"  {page.name}: done", file=sys.stderr)

    print(
        f"\nportal client list — {of_partner:,} clients of the partner, {in_tenant:,} in the "
        f"tenant; {args.requests} requests per variant after {args.warmup} warm-up, "
        f"interleaved with the bare view, in-process WSGI; database {database}"
    )
    rows = []
    worst = 0.0
    for page, bare in pairs:
        base = median_ms(bare.samples)
        ratio = median_ms(page.samples) / base
        judged = page.name != REFERENCE[0]
        if judged:
            worst = max(worst, ratio)
        for variant in (bare, page):
            rows.append(
                [
                    page.name,
                    variant.name if variant is bare else ("portal:clients" if judged else "shell"),
                    f"{median_ms(variant.samples):7.2f}",
                    f"{percentile_ms(variant.samples, 0.9):7.2f}",
                    f"{sum(variant.queries) / len(variant.queries):.1f}",
                    f"{median_ms(variant.sql_ns):6.2f}",
                    f"{median_ms(variant.samples) / base:5.2f}×",
                    verdict(ratio, TARGET) if variant is page and judged else "",
                ]
            )
    print_table(
        ["variant", "view", "median ms", "p90 ms", "queries", "SQL ms", "ratio", "verdict"],
        rows,
    )
    print(
        f"\nworst ratio portal:clients / bare portal_view = {worst:.2f}×  "
        f"(target ≤ {TARGET}×)  {verdict(worst, TARGET)}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
