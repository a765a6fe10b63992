"""Benchmark: usage-event ingest over HTTP (gunicorn) against psycopg COPY of the same rows.

    python -m benchmarks.ingest [--events 200000] [--workers 2] [--threads 4] [--rounds 5]

Data: one vendor with one partner, 1,000 clients (`--clients`) and 3 meters, and a vendor API key.

Ours: gunicorn serving `msp_program.wsgi` with the project's `gunicorn.conf.py` (sync workers,
`--workers` of them) on a free loopback port, with this run's database, Redis and settings. The
load comes from `--threads` client threads in this process, each with its own `http.client`
connection (re-opened when the server closes it: sync workers answer `Connection: close`),
posting batches of 1,000 events — `POST /api/v1/usage-events/`, a JSON list, the vendor chosen by
the Host header, `Authorization: Bearer <key>` — through the full middleware stack, API key
authentication, throttling and `billing.ingest`. Every answer must be 200 with `accepted` = 1,000,
no duplicates and nothing rejected; anything else stops the run (failures are not speed).

Baseline: psycopg COPY of the same rows (the columns ingest writes: event_id, partner_id,
client_id, meter_id, quantity, timestamp, properties; received_at by its default) into the same
table `billing_usageevent` of the tenant's schema, from this process over one connection
(`--copy-connections`), one COPY per batch of 1,000, each committed.

Both sides get the same events (client, meter, quantity, timestamp, properties) with fresh event
ids of their own (`h-<uuid>` and `c-<uuid>`), so neither ever meets a conflict. Request bodies and
COPY rows are built before the clock starts. The events are split into `--rounds` rounds; each
round runs both sides one after the other, the order flipped every round, on a table that keeps
growing for both alike. The ratio is of the medians of the per-round rates (events/s, wall time
from the first batch sent to the last answered or committed). Target: ours ≥ 0.5× COPY.
At the end the stored rows of each side are counted and their quantities summed, and must match
what was sent.

`--breakdown` also times, in this process and without HTTP, the stages of one batch: JSON
parsing, `billing.ingest` without its INSERT, and the INSERT itself (median of 20 batches).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import datetime
import http.client
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from decimal import Decimal
from pathlib import Path

import orjson

from benchmarks._support import bench_database, print_table

TARGET = 0.5  # ours / COPY, events per second; higher is better
HOST = "bench-ingest.localhost"
PATH = "/api/v1/usage-events/"
BATCH = 1_000
PARTNER_EXTERNAL_ID = "BI-PARTNER"
METERS = [
    ("storage_gb", "Storage", "GB", "max", ""),
    ("api_calls", "API calls", "call", "sum", ""),
    ("devices", "Devices", "device", "unique_count", "device_id"),
]
COLUMNS = "event_id, partner_id, client_id, meter_id, quantity, timestamp, properties"
ROOT = Path(__file__).resolve().parents[1]


# --- the tenant -----------------------------------------------------------------------------------


class World:
    """What the events refer to, by the API's names and by the database's ids."""

    def __init__(self, *, schema: str, partner_id: int, clients: list[tuple[int, str]], meters):
        self.schema = schema
        self.partner_id = partner_id
        self.clients = clients  # (pk, external_id)
        self.meters = meters  # (pk, code)
        self.key = ""


def _fill(schema: str, clients: int) -> World:
    from django.utils import timezone

    from accounts.services.api_keys import api_key_create
    from billing.models import Meter
    from core.actors import Actor
    from partners.enums import PartnerStatus
    from partners.models import Client, Partner, Program, Tier, Track

    program = Program.objects.create(name="Bench Program")
    track = Track.objects.create(program=program, name="Managed", slug="managed")
    tier = Tier.objects.create(track=track, name="Registered", rank=1)
    partner = Partner.objects.create(
        name="Bench Ingest Partner",
        external_id=PARTNER_EXTERNAL_ID,
        status=PartnerStatus.ACTIVE,
        status_since=datetime.date(2025, 1, 1),
        track=track,
        tier=tier,
        currency="EUR",
        country="DE",
    )
    today = timezone.localdate()
    rows = Client.objects.bulk_create(
        (
            Client(
                partner=partner,
                name=f"Bench Client {n:05d}",
                external_id=f"CL-{n:05d}",
                started_on=today,
            )
            for n in range(clients)
        ),
        batch_size=1000,
    )
    meters = [
        Meter.objects.create(
            code=code, name=name, unit=unit, aggregation=aggregation, unique_property=prop
        )
        for code, name, unit, aggregation, prop in METERS
    ]
    world = World(
        schema=schema,
        partner_id=partner.pk,
        clients=[(c.pk, c.external_id) for c in rows],
        meters=[(m.pk, m.code) for m in meters],
    )
    world.key = api_key_create(name="bench ingest", actor=Actor.system("bench")).secret
    return world


# --- the events -----------------------------------------------------------------------------------


class Batches:
    """One round's events for both sides: request bodies (ours) and COPY rows (the baseline)."""

    def __init__(self, world: World, rng: random.Random, count: int, now: datetime.datetime):
        self.bodies: list[bytes] = []
        self.rows: list[list[tuple]] = []
        self.quantity = Decimal(0)  # the sum each side must end up with
        for _ in range(count):
            events, rows = [], []
            for _ in range(BATCH):
                client_pk, client = world.clients[rng.randrange(len(world.clients))]
                meter_pk, meter = world.meters[rng.randrange(len(world.meters))]
                quantity = Decimal(rng.randrange(1, 10_000_000)).scaleb(-3)  # 0.001 … 9999.999
                at = now - datetime.timedelta(seconds=rng.randrange(30 * 86_400))
                properties = {"device_id": f"dev-{rng.randrange(5000)}", "site": "hq"}
                ident = uuid.UUID(int=rng.getrandbits(128), version=4).hex
                events.append(
                    {
                        "event_id": f"h-{ident}",
                        "client": client,
                        "partner": PARTNER_EXTERNAL_ID,
                        "meter": meter,
                        "quantity": str(quantity),
                        "timestamp": at.isoformat().replace("+00:00", "Z"),
                        "properties": properties,
                    }
                )
                rows.append(
                    (
                        f"c-{ident}",
                        world.partner_id,
                        client_pk,
                        meter_pk,
                        quantity,
                        at,
                        orjson.dumps(properties).decode(),
                    )
                )
                self.quantity += quantity
            self.bodies.append(orjson.dumps(events))
            self.rows.append(rows)


# --- ours: gunicorn -------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def gunicorn(workers: int) -> object:
    """gunicorn with the project's config, bound to loopback only; stopped by its own PID."""
    port = _free_port()
    env = dict(os.environ)  # DATABASE_URL, CACHE_KEY_PREFIX, DJANGO_SETTINGS_MODULE of this run
    env.update(
        PYTHONUNBUFFERED="1",
        GUNICORN_THREADS="1",  # sync workers, as deployed
        API_RATE_LIMIT="1000000/min",  # settings other than .test: not the throttle's benchmark
    )
    log = tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed below, kept for the error path
        prefix="bench-ingest-gunicorn-", suffix=".log", delete=False
    )
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "msp_program.wsgi",
        "-c",
        "gunicorn.conf.py",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
    ]
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # Ctrl-C reaches us only; we stop it below
    )
    try:
        _wait_until_serving(process, port, log.name)
        yield port
    finally:
        if process.poll() is None:
            os.kill(process.pid, signal.SIGTERM)  # graceful: the master stops its workers
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.kill(process.pid, signal.SIGKILL)
                process.wait()
        log.close()
        with contextlib.suppress(OSError):
            os.unlink(log.name)


def _wait_until_serving(process: subprocess.Popen, port: int, log: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {process.returncode}:\n{Path(log).read_text()}")
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        try:
            connection.request("GET", "/healthz", headers={"Host": HOST})
            connection.getresponse().read()
            return  # any answer: the workers are up (the broker check may say 503)
        except OSError:
            time.sleep(0.2)
        finally:
            connection.close()
    raise RuntimeError(f"gunicorn did not answer within 60 s:\n{Path(log).read_text()}")


class Poster:
    """Posts bodies from a pool of threads, one keep-alive connection per thread."""

    def __init__(self, port: int, key: str, threads: int) -> None:
        self.port = port
        self.headers = {
            "Host": HOST,
            "Authorization": f"Bearer {key}",
            "Content-Type": "application/json",
            "Accept": "application/json",
        }
        self.local = threading.local()
        self.connections: list[http.client.HTTPConnection] = []
        self.pool = concurrent.futures.ThreadPoolExecutor(max_workers=threads)
        self.latencies_ns: list[int] = []
        self.reconnects = 0
        self.requests = 0

    def _connection(self) -> http.client.HTTPConnection:
        connection = getattr(self.local, "connection", None)
        if connection is None:
            connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
            self.local.connection = connection
            self.connections.append(connection)
        return connection

    def _post(self, body: bytes) -> int:
        connection = self._connection()
        if connection.sock is None:
            self.reconnects += 1  # counted racily; for information only
        started = time.perf_counter_ns()
        connection.request("POST", PATH, body=body, headers=self.headers)
        response = connection.getresponse()
        payload = response.read()
        elapsed = time.perf_counter_ns() - started
        if response.status != 200:
            raise RuntimeError(f"POST {PATH}: {response.status} {payload[:2000]!r}")
        result = orjson.loads(payload)
        if result != {"accepted": BATCH, "duplicates": 0, "rejected": []}:
            raise RuntimeError(f"POST {PATH}: not every event was accepted: {payload[:2000]!r}")
        self.latencies_ns.append(elapsed)
        return elapsed

    def post_all(self, bodies: list[bytes]) -> float:
        """Posts every body; the wall time in seconds. Raises on the first bad answer."""
        started = time.perf_counter()
        for _ in self.pool.map(self._post, bodies):
            pass
        self.requests += len(bodies)
        return time.perf_counter() - started

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)
        for connection in self.connections:
            connection.close()


# --- the baseline: COPY ---------------------------------------------------------------------------


class Copier:
    """COPY … FROM STDIN per batch, each committed, over `connections` psycopg connections."""

    def __init__(self, schema: str, connections: int) -> None:
        import psycopg

        from benchmarks._support import _maintenance_conninfo

        conninfo = {k: v for k, v in _maintenance_conninfo().items() if v is not None}
        self.connections = [psycopg.connect(**conninfo) for _ in range(connections)]
        self.free: list = list(self.connections)
        self.lock = threading.Lock()
        self.sql = f'COPY "{schema}".billing_usageevent ({COLUMNS}) FROM STDIN'
        self.pool = concurrent.futures.ThreadPoolExecutor(max_workers=connections)
        self.latencies_ns: list[int] = []

    def _copy(self, rows: list[tuple]) -> None:
        with self.lock:
            connection = self.free.pop()
        try:
            started = time.perf_counter_ns()
            with connection.cursor() as cursor, cursor.copy(self.sql) as copy:
                for row in rows:
                    copy.write_row(row)
            connection.commit()
            self.latencies_ns.append(time.perf_counter_ns() - started)
        finally:
            with self.lock:
                self.free.append(connection)

    def copy_all(self, batches: list[list[tuple]]) -> float:
        started = time.perf_counter()
        if len(self.connections) == 1:
            for rows in batches:
                self._copy(rows)
        else:
            for _ in self.pool.map(self._copy, batches):
                pass
        return time.perf_counter() - started

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)
        for connection in self.connections:
            connection.close()


# --- checks and the breakdown ---------------------------------------------------------------------


def _stored(schema: str, prefix: str) -> tuple[int, Decimal]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            f'SELECT count(*), coalesce(sum(quantity), 0) FROM "{schema}".billing_usageevent '
            "WHERE event_id LIKE %s",
            [f"{prefix}-%"],
        )
        count, total = cursor.fetchone()
    return count, total


def _breakdown(world: World, rng: random.Random, runs: int = 20) -> list[list[str]]:
    """The server-side stages of one batch, in this process, without HTTP and middleware."""
    from django.db import connection
    from django.utils import timezone
    from django_tenants.utils import schema_context

    from billing import ingest

    batches = Batches(world, rng, runs + 3, timezone.now())
    parse_ns, check_ns, insert_ns, total_ns = [], [], [], []
    real_insert = ingest._insert
    spent = {"insert": 0}

    def timed_insert(rows):
        started = time.perf_counter_ns()
        try:
            return real_insert(rows)
        finally:
            spent["insert"] = time.perf_counter_ns() - started

    ingest._insert = timed_insert
    try:
        with schema_context(world.schema):
            for i, body in enumerate(batches.bodies):
                # Fresh ids: the rows of this process must not collide with the HTTP side's.
                body = body.replace(b'"h-', b'"b-')
                started = time.perf_counter_ns()
                items = ingest.parse_batch(body)
                parsed = time.perf_counter_ns()
                # Autocommit, as in a request: the INSERT commits itself.
                result = ingest.ingest_batch(items, caller_partner_id=None)
                done = time.perf_counter_ns()
                assert result.accepted == BATCH, result.as_dict()
                if i < 3:
                    continue  # warm-up
                parse_ns.append(parsed - started)
                insert_ns.append(spent["insert"])
                check_ns.append(done - parsed - spent["insert"])
                total_ns.append(done - started)
            connection.close()
    finally:
        ingest._insert = real_insert

    def ms(samples: list[int]) -> str:
        return f"{statistics.median(samples) / 1e6:7.2f}"

    return [
        ["orjson.loads of the body (parse_batch)", ms(parse_ns)],
        ["ingest_batch without the INSERT: checks, 2 queries, rows", ms(check_ns)],
        ["the INSERT … unnest … ON CONFLICT (autocommit)", ms(insert_ns)],
        ["all of the above", ms(total_ns)],
    ]


# --- main -----------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000, help="per side (multiple of 1,000)")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds per side")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn sync workers")
    parser.add_argument("--threads", type=int, default=4, help="HTTP client threads")
    parser.add_argument("--copy-connections", type=int, default=1)
    parser.add_argument("--clients", type=int, default=1_000, help="clients in the tenant")
    parser.add_argument("--warmup", type=int, default=10, help="batches per side, not timed")
    parser.add_argument("--breakdown", action="store_true", help="time ingest's stages in-process")
    args = parser.parse_args()
    batches_total = args.events // BATCH
    if batches_total < args.rounds or args.events % BATCH:
        parser.error("--events must be a multiple of 1,000 with at least one batch per round")
    per_round = [
        batches_total // args.rounds + (1 if r < batches_total % args.rounds else 0)
        for r in range(args.rounds)
    ]

    with bench_database() as database:
        from django.db import connection
        from django.utils import timezone
        from django_tenants.utils import schema_context

        from core.actors import Actor
        from tenancy.services import vendor_create

        vendor = vendor_create(
            name="Bench Ingest", slug="bench-ingest", domain=HOST, actor=Actor.system("bench")
        )
        with schema_context(vendor.schema_name):
            world = _fill(vendor.schema_name, args.clients)
        connection.close()
        rng = random.Random(42)
        now = timezone.now() - datetime.timedelta(minutes=1)

        ours_rates, copy_rates = [], []
        ours_wall = copy_wall = 0.0
        sent = {"h": [0, Decimal(0)], "c": [0, Decimal(0)]}
        with gunicorn(args.workers) as port:
            poster = Poster(port, world.key, args.threads)
            copier = Copier(world.schema, args.copy_connections)
            try:
                warm = Batches(world, rng, args.warmup, now)
                poster.post_all(warm.bodies)
                copier.copy_all(warm.rows)
                for side in sent.values():
                    side[0] += args.warmup * BATCH
                    side[1] += warm.quantity
                poster.latencies_ns.clear()
                copier.latencies_ns.clear()
                for r, count in enumerate(per_round):
                    batches = Batches(world, rng, count, now)
                    events = count * BATCH
                    sides = ["ours", "copy"] if r % 2 == 0 else ["copy", "ours"]
                    for side in sides:
                        if side == "ours":
                            wall = poster.post_all(batches.bodies)
                            ours_wall += wall
                            ours_rates.append(events / wall)
                        else:
                            wall = copier.copy_all(batches.rows)
                            copy_wall += wall
                            copy_rates.append(events / wall)
                    for side in sent.values():
                        side[0] += events
                        side[1] += batches.quantity
                    print(
                        f"  round {r + 1}/{args.rounds} ({' then '.join(sides)}): "
                        f"ours {ours_rates[-1]:,.0f}/s, copy {copy_rates[-1]:,.0f}/s",
                        file=sys.stderr,
                    )
            finally:
                poster.close()
                copier.close()

        # What each side stored is what it was sent: every row, the same quantities.
        for prefix, (count, total) in sent.items():
            assert _stored(world.schema, prefix) == (count, total), (prefix, count, total)

        breakdown = _breakdown(world, rng) if args.breakdown else None

    measured = sum(per_round) * BATCH
    ours_median = statistics.median(ours_rates)
    copy_median = statistics.median(copy_rates)
    ratio = ours_median / copy_median
    print(
        f"\nusage-event ingest — {measured:,} events per side in {args.rounds} interleaved "
        f"rounds, batches of {BATCH:,}, after {args.warmup} warm-up batches each; "
        f"{args.clients:,} clients, {len(METERS)} meters; {os.cpu_count()} CPUs; "
        f"database {database}"
    )
    print(
        f"ours: gunicorn, {args.workers} sync workers, {args.threads} client threads over "
        f"loopback ({poster.requests - args.warmup} timed requests, every one 200 with "
        f"{BATCH:,} accepted); copy: {args.copy_connections} psycopg connection(s)\n"
    )

    def ms(samples: list[int], q: float) -> str:
        ordered = sorted(samples)
        return f"{ordered[min(len(ordered) - 1, int(q * len(ordered)))] / 1e6:7.1f}"

    print_table(
        [
            "side",
            "events",
            "wall s",
            "events/s (total)",
            "events/s (median round)",
            "batch ms p50",
            "batch ms p90",
            "vs copy",
            "",
        ],
        [
            [
                "COPY (psycopg)",
                f"{measured:,}",
                f"{copy_wall:6.2f}",
                f"{measured / copy_wall:,.0f}",
                f"{copy_median:,.0f}",
                ms(copier.latencies_ns, 0.5),
                ms(copier.latencies_ns, 0.9),
                "1.00×",
                "",
            ],
            [
                "POST /api/v1/usage-events/",
                f"{measured:,}",
                f"{ours_wall:6.2f}",
                f"{measured / ours_wall:,.0f}",
                f"{ours_median:,.0f}",
                ms(poster.latencies_ns, 0.5),
                ms(poster.latencies_ns, 0.9),
                f"{ratio:.2f}×",
                "PASS" if ratio >= TARGET else "FAIL",
            ],
        ],
    )
    print(
        f"\nratio ours/COPY (median of per-round events/s): {ratio:.2f}× (totals: "
        f"{copy_wall / ours_wall:.2f}×); target ≥ {TARGET}× → "
        f"{'PASS' if ratio >= TARGET else 'FAIL'}"
    )
    print("batch ms: ours per request (send to answer read), COPY per batch (COPY + commit)")
    if breakdown:
        print("\nin-process stages of one batch of 1,000 (median of 20, no HTTP, no middleware):")
        print_table(["stage", "ms"], breakdown)
    return 0 if ratio >= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
