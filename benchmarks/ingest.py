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
client_id, meter_id, quantity, timestamp, properties, unique_value; received_at by its default)
into the same table `billing_usageevent` of the tenant's schema, from this process over one
connection (`--copy-connections`), one COPY per batch of 1,000, each committed.

Both sides get the same events (client, meter, quantity, timestamp, properties) with fresh event
ids of their own (`h-<uuid>` and `c-<uuid>`), so neither ever meets a conflict. Request bodies and
COPY rows are built before the clock starts. The events are split into `--rounds` rounds; each
round runs both sides one after the other, the order flipped every round, on a table that keeps
growing for both alike. The ratio is of the medians of the per-round rates (events/s, wall time
from the first batch sent to the last answered or committed). Target: ours ≥ 0.5× COPY.
At the end the stored rows of each side are counted and their quantities summed, and must match
what was sent.

Also printed: the CPU time per batch of gunicorn's workers, of the run's PostgreSQL backends and
of this process, for both sides (Linux, from /proc; the workers keep one database connection for
the run so that every backend is seen). On a busy machine it says where the work goes better
than wall time does. `--breakdown` adds wall and CPU time of the server's stages of one batch in
this process, without HTTP: JSON parsing, `billing.ingest` without its write, the write
(`_insert`: the INSERT and its transaction), and the whole request through Django's WSGI handler
(middleware, DRF, authentication, throttling) — median of 20 batches each.
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
from collections.abc import Iterator
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
COLUMNS = "event_id, partner_id, client_id, meter_id, quantity, timestamp, properties, unique_value"
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
                        # what ingest copies out for the unique_count meter
                        properties["device_id"] if meter == "devices" else None,
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
def gunicorn(workers: int) -> Iterator[tuple[int, int]]:
    """gunicorn with the project's config, bound to loopback only; stopped by its own PID."""
    port = _free_port()
    env = dict(os.environ)  # DATABASE_URL, CACHE_KEY_PREFIX, DJANGO_SETTINGS_MODULE of this run
    env.update(
        PYTHONUNBUFFERED="1",
        GUNICORN_THREADS="1",  # sync workers, as deployed
        API_RATE_LIMIT="1000000/min",  # settings other than .test: not the throttle's benchmark
        # One database connection per worker for the whole run, so that CpuMeter sees every
        # backend (production's 60 s would only add a reconnect a minute).
        DATABASE_CONN_MAX_AGE=os.environ.get("DATABASE_CONN_MAX_AGE", "600"),
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
        yield port, process.pid
    except Exception:
        # What the server said about it (a 500's traceback is in its log).
        tail = Path(log.name).read_text(errors="replace").splitlines()[-40:]
        print("gunicorn's log, last lines:", *tail, sep="\n  ", file=sys.stderr)
        raise
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
            output = Path(log).read_text()
            raise RuntimeError(f"gunicorn exited with {process.returncode}:\n{output}")
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


# --- where the CPU goes ------------------------------------------------------------------------


class CpuMeter:
    """CPU time (user + system, from /proc) of gunicorn's workers, of this database's PostgreSQL
    backends and of this process, summed per side over its phases. Linux only; a process that
    ends during a phase takes its CPU time with it (none should: workers are not recycled this
    soon and connections are kept for the run)."""

    TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100

    def __init__(self, master_pid: int) -> None:
        self.master_pid = master_pid
        self.available = Path(f"/proc/{master_pid}/stat").exists()
        self.spent: dict[str, dict[str, float]] = {}

    @classmethod
    def _cpu(cls, pid: int) -> float | None:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            return None
        fields = stat[stat.rindex(")") + 2 :].split()
        return (int(fields[11]) + int(fields[12])) / cls.TICK  # utime, stime

    def _workers(self) -> list[int]:
        path = Path(f"/proc/{self.master_pid}/task/{self.master_pid}/children")
        try:
            return [int(pid) for pid in path.read_text().split()]
        except OSError:
            return []

    def _backends(self) -> list[int]:
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pid FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            return [pid for (pid,) in cursor.fetchall()]

    def _snapshot(self) -> dict[str, dict[int, float]]:
        def of(pids: list[int]) -> dict[int, float]:
            return {pid: cpu for pid in pids if (cpu := self._cpu(pid)) is not None}

        return {
            "app": of(self._workers()),
            "postgres": of(self._backends()),
            "client": {0: time.process_time()},
        }

    @contextlib.contextmanager
    def phase(self, side: str) -> Iterator[None]:
        if not self.available:
            yield
            return
        before = self._snapshot()
        yield
        after = self._snapshot()
        spent = self.spent.setdefault(side, {"app": 0.0, "postgres": 0.0, "client": 0.0})
        for kind, now in after.items():
            spent[kind] += sum(cpu - before[kind].get(pid, 0.0) for pid, cpu in now.items())


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


class _Stages:
    """Wall and CPU time (this thread's) per named stage, one sample per batch."""

    def __init__(self) -> None:
        self.wall: dict[str, list[int]] = {}
        self.cpu: dict[str, list[int]] = {}

    @contextlib.contextmanager
    def timed(self, name: str, keep: bool = True) -> Iterator[None]:
        wall, cpu = time.perf_counter_ns(), time.thread_time_ns()
        yield
        if keep:
            self.wall.setdefault(name, []).append(time.perf_counter_ns() - wall)
            self.cpu.setdefault(name, []).append(time.thread_time_ns() - cpu)

    def row(self, name: str, label: str) -> list[str]:
        wall, cpu = statistics.median(self.wall[name]), statistics.median(self.cpu[name])
        return [label, f"{wall / 1e6:7.2f}", f"{cpu / 1e6:7.2f}", f"{(wall - cpu) / 1e6:7.2f}"]


def _wsgi_post(handler, body: bytes, key: str) -> bytes:
    import io

    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": PATH,
        "QUERY_STRING": "",
        "SCRIPT_NAME": "",
        "SERVER_NAME": HOST,
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": HOST,
        "HTTP_AUTHORIZATION": f"Bearer {key}",
        "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": str(len(body)),
        "REMOTE_ADDR": "127.0.0.1",
        "wsgi.input": io.BytesIO(body),
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }
    statuses: list[str] = []
    response = handler(environ, lambda status, headers, exc_info=None: statuses.append(status))
    try:
        payload = b"".join(response)
    finally:
        response.close()
    assert statuses[0].startswith("200"), (statuses, payload[:2000])
    return payload


def _breakdown(world: World, rng: random.Random, runs: int = 20) -> list[list[str]]:
    """The server's work on one batch, in this process: ingest's stages called directly, then
    the whole request through Django's WSGI handler (middleware, DRF, authentication,
    throttling) without HTTP. Wall and CPU time; wall − CPU: waiting on PostgreSQL or a CPU."""
    from django.core.handlers.wsgi import WSGIHandler
    from django.db import connection
    from django.utils import timezone
    from django_tenants.utils import schema_context

    from billing import ingest

    warmup = 3
    batches = Batches(world, rng, 2 * (runs + warmup), timezone.now())
    # Fresh ids: these rows must not collide with the HTTP side's.
    bodies = [body.replace(b'"h-', b'"b-') for body in batches.bodies]
    stages = _Stages()
    real_insert = ingest._insert
    keep = {"now": False}

    def timed_insert(*args, **kwargs):
        with stages.timed("insert", keep["now"]):
            return real_insert(*args, **kwargs)

    ingest._insert = timed_insert
    try:
        with schema_context(world.schema):
            for i, body in enumerate(bodies[: runs + warmup]):
                keep["now"] = i >= warmup
                with stages.timed("total", keep["now"]):
                    with stages.timed("parse", keep["now"]):
                        items = ingest.parse_batch(body)
                    # As in a request: no transaction around it (the write commits on its own).
                    result = ingest.ingest_batch(items, caller_partner_id=None)
                assert result.accepted == BATCH, result.as_dict()
            connection.close()
        handler = WSGIHandler()
        for i, body in enumerate(bodies[runs + warmup :]):
            keep["now"] = False
            with stages.timed("request", i >= warmup):
                payload = _wsgi_post(handler, body, world.key)
            assert orjson.loads(payload)["accepted"] == BATCH, payload[:2000]
        connection.close()
    finally:
        ingest._insert = real_insert

    parse, insert, total = (stages.wall[n] for n in ("parse", "insert", "total"))
    stages.wall["checks"] = [t - p - w for t, p, w in zip(total, parse, insert, strict=True)]
    parse, insert, total = (stages.cpu[n] for n in ("parse", "insert", "total"))
    stages.cpu["checks"] = [t - p - w for t, p, w in zip(total, parse, insert, strict=True)]
    return [
        stages.row("parse", "parse_batch: orjson.loads of the body"),
        stages.row("checks", "ingest_batch without _insert: checks, client + meter lookups"),
        stages.row("insert", "_insert: the INSERT … ON CONFLICT and its transaction"),
        stages.row("total", "ingest alone: parse_batch + ingest_batch"),
        stages.row("request", "the whole request through Django's WSGI handler, no HTTP"),
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
    # `kill <pid>` cleans up like Ctrl-C does: gunicorn stopped, the database dropped.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
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
        with gunicorn(args.workers) as (port, master_pid):
            meter = CpuMeter(master_pid)
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
                            with meter.phase("ours"):
                                wall = poster.post_all(batches.bodies)
                            ours_wall += wall
                            ours_rates.append(events / wall)
                        else:
                            with meter.phase("copy"):
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
    if meter.spent:
        batches_measured = measured / BATCH
        print("\nCPU ms per batch of 1,000 (user + system, all cores; from /proc):")
        cpu_rows = []
        for side, label in (("copy", "COPY (psycopg)"), ("ours", "POST /api/v1/usage-events/")):
            spent = meter.spent[side]
            cpu_rows.append(
                [
                    label,
                    f"{spent['client'] * 1000 / batches_measured:7.1f}",
                    f"{spent['app'] * 1000 / batches_measured:7.1f}",
                    f"{spent['postgres'] * 1000 / batches_measured:7.1f}",
                    f"{sum(spent.values()) * 1000 / batches_measured:7.1f}",
                ]
            )
        print_table(
            ["side", "this process", "gunicorn workers", "PostgreSQL backends", "total"],
            cpu_rows,
        )
        print(
            "this process: the COPY client, or the HTTP load generator; PostgreSQL: the "
            "backends of this run's database (not its WAL writer or checkpointer)"
        )
    if breakdown:
        print("\nthe server's work on one batch of 1,000, in this process (median of 20):")
        print_table(["stage", "wall ms", "CPU ms", "wall − CPU"], breakdown)
        print(
            "CPU: this process's Python (with psycopg building statements and reading results); "
            "wall − CPU: waiting on PostgreSQL (and, on a busy machine, for a CPU)"
        )
    return 0 if ratio >= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
