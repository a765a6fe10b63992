"""Benchmark: the month-end close (rating and writing invoices) against a raw SQL GROUP BY.

    python -m benchmarks.rating [--events 10000000] [--partners 2000] [--clients 100000]
                                [--workers 1,2] [--runs 1] [--chunk-size N] [--max-chunks N]
                                [--profile] [--explain] [--no-history]

Quick check: `--events 200000 --partners 100 --clients 5000` (under a minute).

Data (one vendor, Europe/Berlin, last calendar month): `--partners` partners (4 tiers with
wholesale discounts of 0/5/10/15 %, tax rates of 0/7/19/20/21 %), `--clients` clients spread
evenly over them (2 % on trial — never billed — and 2 % churned mid-month — billed to their end
date), 3 meters with different aggregations (storage: sum; devices: unique_count over
`device_id`; API calls: count), 2 price plans with different charge models:

- "backup": seats per_unit 3.00 (daily average), storage graduated and pooled over the partner's
  clients (≤100 GB 0.10, ≤1,000 GB 0.07, then 0.05), devices per_unit 1.50;
- "rmm": seats volume (≤10 5.00, ≤50 4.00, then 3.00; daily average), storage per_unit 0.08,
  API calls package (2.50 per 1,000 started);

a subscription per client (alternating plans) with its initial seat quantity, and a seat change in
the middle of the month for every 10th. Then `--events` usage events in the month, generated in
SQL (`INSERT … SELECT … generate_series`) in time order as ingest would store them — each client's
events interleaved with everyone else's across the whole table — every client of its plan's two
meters, device events with the `unique_value` ingest copies out of `properties->>'device_id'`
(clients and subscriptions are written with COPY). The usage table's indexes are built
after the load (its foreign-key triggers skipped for the load: the rows are valid by
construction), then `VACUUM ANALYZE` (as autovacuum would leave it).

Baseline: `SELECT partner_id, client_id, meter_id, sum(quantity) FROM billing_usageevent WHERE
timestamp >= start AND timestamp < end GROUP BY 1, 2, 3` over the same month, every row fetched
into Python (psycopg, this process), with the `work_mem` and `jit` each rating chunk sets for
itself (`BILLING_RATING_WORK_MEM`, 64MB; `jit` off) and the server's parallel-query settings as
they are (printed; the close runs with the same ones).

Ours: the whole close as production runs it: `period_close` (a new run, the partners split into
chunks, one Celery task per chunk) and real Celery workers (`celery -A msp_program worker --pool
prefork -c N`, started before the clock, on this run's database and Redis, each worker on a queue
of its own) rating and writing each chunk, until the period reaches review. Timed from calling
`period_close` to seeing the period in review (polled every 10 ms). Two kinds of close, each
doing the same work every time:

- first close: the period reset to open before the clock (its drafts, chunks and run deleted, the
  invoice tables vacuumed), so every invoice and line is written anew — the month-end close. As
  at any month-end after a vendor's first, the invoice tables also hold an earlier month's
  finalized invoices (a copy of the first close's, added once, untimed; `--no-history` leaves
  them out, and PostgreSQL then plans the per-line invoice key check on a table it believes
  empty);
- re-rating: closing again from review with nothing changed — the close after late usage,
  which rates everything again but writes only the lines that moved (here none).

With `--workers 1,2` a worker with 1 process and one with 2 take turns; runs interleave baseline
and closes (the baseline before every close). The written invoices are checked to be identical (a
digest of every invoice and line) after every close.

Memory: peak RSS (VmHWM, reset before each close through /proc/<pid>/clear_refs where allowed) of
this process and of every worker process, and the peak RSS of the PostgreSQL backends serving the
workers (which includes the shared buffers they touched).

Targets: close with 2 worker processes ≤ 1.5 × baseline; peak RSS of any process < 1 GB; speed-up
of 2 worker processes over 1 ≥ 1.6 × (a goal, printed). `--chunk-size` / `--max-chunks` set
`BILLING_RATING_CHUNK_SIZE` / `BILLING_RATING_MAX_CHUNKS` for the run.

`--profile` rates every chunk once in this process under cProfile (no Celery) and prints the top
functions; `--explain` prints EXPLAIN (ANALYZE, BUFFERS) of the baseline and of one chunk's
aggregation queries.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from decimal import Decimal
from pathlib import Path
from unittest import mock

from benchmarks._support import bench_database, print_table

TARGET = 1.5  # close (2 worker processes) / baseline
SPEEDUP_GOAL = 1.6  # close(1) / close(2)
MEMORY_LIMIT = 1 << 30  # bytes, per process
HOST = "bench-rating.localhost"
ROOT = Path(__file__).resolve().parents[1]
TAX_RATES = ["0", "7", "19", "20", "21"]
DISCOUNTS = [("Registered", "0"), ("Silver", "5"), ("Gold", "10"), ("Platinum", "15")]
DEVICES_PER_CLIENT = 20


# --- the month ------------------------------------------------------------------------------------


def _previous_month(today: datetime.date) -> datetime.date:
    return (today.replace(day=1) - datetime.timedelta(days=1)).replace(day=1)


# --- the data -------------------------------------------------------------------------------------


class World:
    def __init__(self) -> None:
        self.schema = ""
        self.month = datetime.date.min
        self.starts_at: datetime.datetime | None = None
        self.ends_at: datetime.datetime | None = None
        self.partners = 0
        self.clients = 0
        self.events = 0
        self.billed_clients = 0


def _catalog(month: datetime.date):
    from billing.services.catalog import meter_create, price_plan_create
    from core.actors import Actor

    actor = Actor.system("bench")
    effective = _previous_month(month)
    meters = {
        "storage": meter_create(
            code="storage", name="Storage", unit="GB", aggregation="sum", actor=actor
        ),
        "devices": meter_create(
            code="devices",
            name="Devices",
            unit="device",
            aggregation="unique_count",
            unique_property="device_id",
            actor=actor,
        ),
        "api_calls": meter_create(
            code="api_calls", name="API calls", unit="call", aggregation="count", actor=actor
        ),
    }
    backup = price_plan_create(
        code="backup",
        name="Backup",
        currency="EUR",
        effective_from=effective,
        actor=actor,
        charges=[
            {"seats": True, "model": "per_unit", "unit_price": "3.00", "counting_rule": "average"},
            {
                "meter": "storage",
                "model": "graduated",
                "pooled": True,
                "tiers": [
                    {"up_to": 100, "unit_price": "0.10", "flat_fee": "0"},
                    {"up_to": 1000, "unit_price": "0.07", "flat_fee": "0"},
                    {"up_to": None, "unit_price": "0.05", "flat_fee": "0"},
                ],
            },
            {"meter": "devices", "model": "per_unit", "unit_price": "1.50"},
        ],
    )
    rmm = price_plan_create(
        code="rmm",
        name="RMM",
        currency="EUR",
        effective_from=effective,
        actor=actor,
        charges=[
            {
                "seats": True,
                "model": "volume",
                "counting_rule": "average",
                "tiers": [
                    {"up_to": 10, "unit_price": "5.00", "flat_fee": "0"},
                    {"up_to": 50, "unit_price": "4.00", "flat_fee": "0"},
                    {"up_to": None, "unit_price": "3.00", "flat_fee": "0"},
                ],
            },
            {"meter": "storage", "model": "per_unit", "unit_price": "0.08"},
            {
                "meter": "api_calls",
                "model": "package",
                "package_size": 1000,
                "package_price": "2.50",
            },
        ],
    )
    return meters, (backup, rmm)


def _fill(world: World, partners: int, clients: int, events: int) -> None:
    """Partners, clients, catalog, subscriptions and seat changes, then the events."""
    from django.db import connection

    from billing.closing.rate import period_bounds
    from partners.enums import ClientStatus, PartnerStatus
    from partners.models import Partner, Program, Tier, Track

    schema = world.schema
    month = world.month
    bounds = period_bounds(month)
    world.starts_at, world.ends_at = bounds.starts_at, bounds.ends_at
    last_day = bounds.last_day
    per_partner = clients // partners
    if per_partner < 2 or clients % partners:
        raise SystemExit("--clients must be a multiple of --partners, at least 2 per partner")

    program = Program.objects.create(name="Bench Program")
    track = Track.objects.create(program=program, name="Managed", slug="managed")
    tiers = [
        Tier.objects.create(
            track=track, name=name, rank=rank, wholesale_discount_pct=Decimal(discount)
        )
        for rank, (name, discount) in enumerate(DISCOUNTS, start=1)
    ]
    rows = Partner.objects.bulk_create(
        (
            Partner(
                name=f"Bench MSP {n:05d}",
                external_id=f"BM-{n:05d}",
                status=PartnerStatus.ACTIVE,
                status_since=datetime.date(2024, 1, 1),
                track=track,
                tier=tiers[n % len(tiers)],
                currency="EUR",
                country="DE",
                billing_email=f"billing@msp{n:05d}.example",
                billing_address=f"Hauptstraße {n}\n10115 Berlin",
                tax_rate=Decimal(TAX_RATES[n % len(TAX_RATES)]),
            )
            for n in range(partners)
        ),
        batch_size=1000,
    )
    partner_ids = [p.pk for p in rows]
    meters, plans = _catalog(month)

    started = month - datetime.timedelta(days=120)
    churned_on = month + datetime.timedelta(days=14)
    created = datetime.datetime.now(datetime.UTC)
    with connection.cursor() as cursor:
        raw = cursor.cursor
        columns = "partner_id, name, external_id, status, service_tier, started_on, ended_on, "
        columns += "created_at, updated_at"
        with raw.copy(f'COPY "{schema}".partners_client ({columns}) FROM STDIN') as copy:
            for p, partner_id in enumerate(partner_ids):
                for i in range(per_partner):
                    # 2 % trial (never billed), 2 % churned mid-month (billed to the 15th).
                    status, ended = ClientStatus.ACTIVE, None
                    if i % 50 == 49:
                        status = ClientStatus.TRIAL
                    elif i % 50 == 48:
                        status, ended = ClientStatus.CHURNED, churned_on
                    copy.write_row(
                        (
                            partner_id,
                            f"Client {p:05d}-{i:03d}",
                            f"C{p:05d}-{i:03d}",
                            status,
                            "Essentials",
                            started,
                            ended,
                            created,
                            created,
                        )
                    )
        cursor.execute(f'SELECT id, partner_id FROM "{schema}".partners_client ORDER BY id')
        client_rows = cursor.fetchall()
        client_ids = [c for c, _ in client_rows]
        # The event generator maps client index → ids arithmetically: ids must be contiguous.
        assert client_ids[-1] - client_ids[0] + 1 == len(client_ids) == clients
        assert partner_ids[-1] - partner_ids[0] + 1 == len(partner_ids) == partners
        assert all(
            partner == partner_ids[k // per_partner] for k, (_, partner) in enumerate(client_rows)
        )
        # A subscription per client, plans alternating by client index (even: backup).
        with raw.copy(
            f'COPY "{schema}".billing_subscription '
            "(client_id, price_plan_id, quantity, started_on, ended_on, created_at) FROM STDIN"
        ) as copy:
            for k, client_id in enumerate(client_ids):
                copy.write_row((client_id, plans[k % 2].pk, 5 + k % 20, started, None, created))
        cursor.execute(
            f'INSERT INTO "{schema}".billing_seatquantitychange '
            "(subscription_id, quantity, effective_on, created_at) "
            f'SELECT id, quantity, started_on, %s FROM "{schema}".billing_subscription',
            [created],
        )
        # Every 10th subscription: 3 more seats from the 15th.
        cursor.execute(
            f'INSERT INTO "{schema}".billing_seatquantitychange '
            "(subscription_id, quantity, effective_on, created_at) "
            f'SELECT id, quantity + 3, %s, %s FROM "{schema}".billing_subscription '
            "WHERE id %% 10 = 0",
            [churned_on, created],
        )
        cursor.execute(
            f'UPDATE "{schema}".billing_subscription SET quantity = quantity + 3 '
            "WHERE id %% 10 = 0",
            [],
        )
    world.partners, world.clients = partners, clients
    world.billed_clients = partners * sum(1 for i in range(per_partner) if i % 50 != 49)
    _fill_events(world, client_ids[0], partner_ids[0], per_partner, meters, events)
    assert last_day


def _fill_events(world: World, client0: int, partner0: int, per_partner: int, meters, n: int):
    """`n` events over the month in time order; client k gets every event with
    (i × 7919) mod clients = k, i.e. the same number ±1, spread over the month; each client's
    events alternate between its plan's two meters (backup: storage and devices; rmm: storage and
    API calls), and half the clients start with the other one, so every stretch of the table holds
    events of every meter and partner (as ingest would store them: no meter or partner clustered
    anywhere)."""
    from django.db import connection

    schema = world.schema
    clients = world.clients
    seconds = (world.ends_at - world.starts_at).total_seconds()
    table = f'"{schema}".billing_usageevent'
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid), c.conname, "
            "pg_get_constraintdef(c.oid) FROM pg_index i "
            "LEFT JOIN pg_constraint c ON c.conindid = i.indexrelid AND c.conrelid = i.indrelid "
            "WHERE i.indrelid = %s::regclass AND NOT i.indisprimary",
            [table],
        )
        indexes = cursor.fetchall()
        for index, _definition, constraint, _condef in indexes:
            if constraint:
                cursor.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{constraint}"')
            else:
                cursor.execute(f"DROP INDEX {index}")
        started = time.perf_counter()
        # Rows valid by construction: skip the per-row foreign-key triggers of this session.
        cursor.execute("SET session_replication_role = replica")
        cursor.execute(
            f"""
            INSERT INTO {table}
                (event_id, partner_id, client_id, meter_id, quantity, timestamp, properties,
                 unique_value, received_at)
            SELECT 'ev-' || i, %(partner0)s + k / %(per_partner)s, %(client0)s + k,
                   CASE WHEN (j + k / 2) %% 2 = 0 THEN %(storage)s
                        WHEN k %% 2 = 0 THEN %(devices)s ELSE %(api_calls)s END,
                   CASE WHEN (j + k / 2) %% 2 = 0 THEN ((i * 7) %% 1000 + 1) / 10.0 ELSE 1 END,
                   %(start)s + (i - 1) * %(step)s * interval '1 second',
                   CASE WHEN (j + k / 2) %% 2 = 1 AND k %% 2 = 0
                        THEN jsonb_build_object('device_id', 'dev-' || (j / 2) %% %(devices_n)s)
                        ELSE '{{}}'::jsonb END,
                   -- what ingest copies out of properties->>'device_id' for the devices meter
                   CASE WHEN (j + k / 2) %% 2 = 1 AND k %% 2 = 0
                        THEN 'dev-' || (j / 2) %% %(devices_n)s END,
                   %(start)s + (i - 1) * %(step)s * interval '1 second'
            FROM generate_series(1, %(n)s) AS i,
                 LATERAL (SELECT (i * 7919::bigint) %% %(clients)s AS k, i / %(clients)s AS j) x
            """,
            {
                "partner0": partner0,
                "per_partner": per_partner,
                "client0": client0,
                "storage": meters["storage"].pk,
                "devices": meters["devices"].pk,
                "api_calls": meters["api_calls"].pk,
                "start": world.starts_at,
                "step": seconds / n,
                "devices_n": DEVICES_PER_CLIENT,
                "n": n,
                "clients": clients,
            },
        )
        cursor.execute("SET session_replication_role = DEFAULT")
        loaded = time.perf_counter() - started
        cursor.execute("SET maintenance_work_mem = '512MB'")
        for _index, definition, constraint, condef in indexes:
            if constraint:
                cursor.execute(f'ALTER TABLE {table} ADD CONSTRAINT "{constraint}" {condef}')
            else:
                cursor.execute(definition)
        cursor.execute("RESET maintenance_work_mem")
        indexed = time.perf_counter() - started - loaded
        cursor.execute(f"VACUUM ANALYZE {table}")
        for name in ("partners_client", "billing_subscription", "billing_seatquantitychange"):
            cursor.execute(f'VACUUM ANALYZE "{schema}".{name}')
        cursor.execute(f"SELECT pg_total_relation_size('{table}'), pg_relation_size('{table}')")
        total, heap = cursor.fetchone()
    world.events = n
    print(
        f"  events: {n:,} inserted in {loaded:.1f} s, indexes built in {indexed:.1f} s; "
        f"table {heap / 2**20:,.0f} MiB, with indexes {total / 2**20:,.0f} MiB",
        file=sys.stderr,
    )


# --- the baseline ---------------------------------------------------------------------------------


BASELINE_SQL = (
    "SELECT partner_id, client_id, meter_id, sum(quantity) FROM billing_usageevent "
    "WHERE timestamp >= %s AND timestamp < %s GROUP BY 1, 2, 3"
)


def baseline(world: World) -> tuple[float, int]:
    from django.db import connection

    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(BASELINE_SQL, [world.starts_at, world.ends_at])
        rows = cursor.fetchall()
    return time.perf_counter() - started, len(rows)


# --- memory ---------------------------------------------------------------------------------------


def _status_kib(pid: int, field: str) -> int:
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def reset_peak(pids: list[int]) -> bool:
    """Reset VmHWM (Linux: write 5 to clear_refs); False where that is not allowed."""
    ok = True
    for pid in pids:
        try:
            with open(f"/proc/{pid}/clear_refs", "w") as refs:
                refs.write("5")
        except OSError:
            ok = False
    return ok


class BackendWatcher:
    """Samples the RSS of this database's PostgreSQL backends (other than ours) while a close
    runs; keeps each backend's highest VmHWM/RSS seen."""

    def __init__(self, database: str, own_pid: int) -> None:
        self.database = database
        self.own_pid = own_pid
        self.peak_kib = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _pids(self, conn) -> list[int]:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> %s",
            [self.database, self.own_pid],
        ).fetchall()
        return [r[0] for r in rows]

    def _run(self) -> None:
        import psycopg

        from benchmarks._support import _maintenance_conninfo

        conninfo = {k: v for k, v in _maintenance_conninfo().items() if v is not None}
        conninfo["dbname"] = "postgres"
        with psycopg.connect(**conninfo, autocommit=True) as conn:
            while not self._stop.is_set():
                for pid in self._pids(conn):
                    kib = max(_status_kib(pid, "VmHWM"), _status_kib(pid, "VmRSS"))
                    self.peak_kib = max(self.peak_kib, kib)
                self._stop.wait(0.05)

    def __enter__(self) -> BackendWatcher:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join()


# --- the workers ----------------------------------------------------------------------------------


class Worker:
    """A Celery worker (prefork, `processes` children) on this run's database and Redis."""

    def __init__(self, processes: int) -> None:
        self.processes = processes
        self.name = f"bench-rating-{os.getpid()}-{processes}@localhost"
        self.queue = f"bench-rating-{os.getpid()}-{processes}"
        self.process: subprocess.Popen | None = None
        self.log = tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed in stop()
            prefix=f"bench-rating-worker{processes}-", suffix=".log", delete=False
        )

    def start(self) -> None:
        env = dict(os.environ)  # DATABASE_URL, CACHE_KEY_PREFIX, DJANGO_SETTINGS_MODULE of this run
        env.update(PYTHONUNBUFFERED="1", DATABASE_CONN_MAX_AGE="3600")
        command = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "msp_program",
            "worker",
            "--pool",
            "prefork",
            "-c",
            str(self.processes),
            "-n",
            self.name,
            "-Q",
            self.queue,
            "--without-gossip",
            "--without-mingle",
            "--loglevel",
            "WARNING",
        ]
        self.process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self._wait_ready()

    def _wait_ready(self) -> None:
        from msp_program.celery import app

        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"celery exited:\n{Path(self.log.name).read_text()}")
            replies = app.control.ping(destination=[self.name], timeout=0.5)
            if replies and len(self.children()) >= self.processes:
                return
        raise RuntimeError(f"celery did not answer:\n{Path(self.log.name).read_text()}")

    def children(self) -> list[int]:
        import psutil

        try:
            return [c.pid for c in psutil.Process(self.process.pid).children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def pids(self) -> list[int]:
        return [self.process.pid, *self.children()] if self.process else []

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)  # warm shutdown: the children stop too
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.kill(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.log.close()
        with contextlib.suppress(OSError):
            os.unlink(self.log.name)


# --- the close ------------------------------------------------------------------------------------


def digest() -> tuple[int, int, str, Decimal]:
    """(invoices, lines, md5 of every invoice and line, Σ invoice totals) of the period."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT (SELECT count(*) FROM billing_invoice),
                   (SELECT count(*) FROM billing_invoiceline),
                   md5(string_agg(row, E'\n' ORDER BY row)),
                   (SELECT coalesce(sum(total), 0) FROM billing_invoice)
            FROM (
                SELECT concat_ws('|', i.partner_id, i.currency, i.subtotal, i.discount, i.tax,
                                 i.total, l.position, l.client_id, l.charge_id, l.description,
                                 l.quantity, l.unit_price, l.amount, l.discount, l.net_amount,
                                 l.tiers::text) AS row
                FROM billing_invoice i JOIN billing_invoiceline l ON l.invoice_id = i.id
            ) x
            """
        )
        return cursor.fetchone()


def close_once(world: World, worker: Worker, timeout: float = 3600) -> float:
    """period_close, its chunks sent to `worker`'s queue, then wait for review; the wall time in
    seconds."""
    from billing.models import BillingPeriod
    from billing.models_invoicing import PeriodStatus
    from billing.services.periods import period_close
    from billing.tasks import rate_chunk
    from core.actors import Actor

    def dispatch(chunk_ids) -> None:
        # periods._dispatch, with this worker's queue (each worker consumes its own).
        for chunk_id in chunk_ids:
            rate_chunk.apply_async((chunk_id,), queue=worker.queue)

    started = time.perf_counter()
    with mock.patch("billing.services.periods._dispatch", dispatch):
        period = period_close(month=world.month, actor=Actor.system("bench"))
    while True:
        status = BillingPeriod.objects.filter(pk=period.pk).values_list("status", flat=True).first()
        if status == PeriodStatus.REVIEW:
            return time.perf_counter() - started
        if time.perf_counter() - started > timeout:
            raise RuntimeError(f"the close did not reach review in {timeout} s")
        time.sleep(0.01)


def close_inline(world: World) -> float:
    """The close with every chunk rated in this process (no Celery): for --profile."""
    from billing.models import BillingPeriod, RatingChunk
    from billing.services.periods import period_close
    from core.actors import Actor

    started = time.perf_counter()
    with mock.patch("billing.services.periods._dispatch", lambda ids: None):
        period = period_close(month=world.month, actor=Actor.system("bench"))
    period = BillingPeriod.objects.get(pk=period.pk)
    ids = RatingChunk.objects.filter(period=period, run=period.run).order_by("index")
    from billing.tasks import rate_chunk

    for chunk_id in ids.values_list("pk", flat=True):
        assert rate_chunk.run(chunk_id) == "done"
    return time.perf_counter() - started


def _explain(world: World) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from billing.models import RatingChunk

    def show(sql: str, params) -> None:
        with connection.cursor() as cursor:
            cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}", params)
            print(f"\n-- {sql[:400]}")
            for (line,) in cursor.fetchall():
                print(f"   {line}")

    show(BASELINE_SQL, [world.starts_at, world.ends_at])
    chunk = RatingChunk.objects.order_by("-id").first()
    from billing.closing.rate import Catalog
    from billing.services.periods import period_bounds_of, rate_partners

    with CaptureQueriesContext(connection) as captured:
        rate_partners(chunk.partner_ids, period_bounds_of(chunk.period), catalog=Catalog())
    for query in captured.captured_queries:
        if "billing_usageevent" in query["sql"]:
            print(f"\n(chunk of {len(chunk.partner_ids)} partners)")
            show(query["sql"], None)


def _profile(world: World) -> None:
    import cProfile
    import pstats

    profiler = cProfile.Profile()
    profiler.enable()
    seconds = close_inline(world)
    profiler.disable()
    print(f"\n=== cProfile — one close rated in this process: {seconds:.2f} s ===")
    stats = pstats.Stats(profiler, stream=sys.stdout)
    stats.sort_stats("tottime").print_stats(30)
    stats.sort_stats("cumulative").print_stats(40)


def add_history(world: World) -> None:
    """Untimed, once: the month before holds finalized invoices — a copy of the first close's
    drafts, numbered — as at any real month-end after the first. Without them a reset to open
    leaves the invoice tables empty and vacuum-analyzed, PostgreSQL plans the per-line foreign-key
    check on the invoice as a sequential scan of billing_invoice (the statistics say it is empty),
    and the close measures that plan rather than its own work. Rating ignores these invoices
    (no late-usage markers)."""
    from django.db import connection, transaction

    from billing.closing.rate import period_bounds, previous_month
    from billing.models import BillingPeriod

    current = BillingPeriod.objects.get(month=world.month)
    month = previous_month(world.month)
    bounds = period_bounds(month)
    now = datetime.datetime.now(datetime.UTC)
    columns = (
        "currency, subtotal, discount, tax, total, discount_pct, tax_rate, tier_name, "
        "bill_to_name, bill_to_email, bill_to_address, bill_to_country, partner_id"
    )
    line_columns = (
        "position, client_id, charge_id, meter_id, seats, price_plan_code, description, "
        "quantity, unit_price, amount, discount, net_amount, pooled, tiers, adjustment_of"
    )
    with transaction.atomic(), connection.cursor() as cursor:
        history = BillingPeriod.objects.create(
            month=month, starts_at=bounds.starts_at, ends_at=bounds.ends_at, status="open"
        )
        # Drafts first (the triggers refuse lines on a finalized invoice), then finalized.
        cursor.execute(
            f"INSERT INTO billing_invoice (period_id, status, created_at, updated_at, {columns}) "
            f"SELECT %s, 'draft', %s, %s, {columns} FROM billing_invoice WHERE period_id = %s",
            [history.pk, now, now, current.pk],
        )
        cursor.execute(
            f"INSERT INTO billing_invoiceline (invoice_id, {line_columns}) "
            f"SELECT h.id, {', '.join(f'l.{c}' for c in line_columns.split(', '))} "
            "FROM billing_invoiceline l JOIN billing_invoice i ON i.id = l.invoice_id "
            "JOIN billing_invoice h ON h.period_id = %s AND h.partner_id = i.partner_id "
            "AND h.currency = i.currency WHERE i.period_id = %s ORDER BY h.id, l.position",
            [history.pk, current.pk],
        )
        cursor.execute(
            "UPDATE billing_invoice SET status = 'open', number = 'H-' || id, issued_on = %s, "
            "finalized_at = %s WHERE period_id = %s",
            [bounds.ends_at.date(), now, history.pk],
        )
        cursor.execute(
            "UPDATE billing_billingperiod SET status = 'finalized', finalized_at = %s, "
            "rated_at = %s WHERE id = %s",
            [now, now, history.pk],
        )
    with connection.cursor() as cursor:
        for table in ("billing_invoiceline", "billing_invoice"):
            cursor.execute(f"VACUUM ANALYZE {table}")


def reset_to_open(world: World) -> None:
    """Untimed, before a first close: the period's drafts, chunks and run gone, the period open
    again, the invoice tables vacuumed — each first close starts from the same state."""
    from django.db import connection, transaction

    from billing.models import BillingPeriod

    period = BillingPeriod.objects.get(month=world.month)
    with transaction.atomic(), connection.cursor() as cursor:  # lines and invoices together
        cursor.execute(
            "DELETE FROM billing_invoiceline WHERE invoice_id IN "
            "(SELECT id FROM billing_invoice WHERE period_id = %s AND number IS NULL)",
            [period.pk],
        )
        cursor.execute(
            "DELETE FROM billing_invoice WHERE period_id = %s AND number IS NULL", [period.pk]
        )
        cursor.execute("DELETE FROM billing_ratingchunk WHERE period_id = %s", [period.pk])
        cursor.execute(
            "UPDATE billing_billingperiod SET status = 'open', run = NULL, "
            "run_started_at = NULL, rated_at = NULL WHERE id = %s",
            [period.pk],
        )
    with connection.cursor() as cursor:
        for table in ("billing_invoiceline", "billing_invoice", "billing_ratingchunk"):
            cursor.execute(f"VACUUM ANALYZE {table}")


class Side:
    """One timed row of the table: its seconds and the peak RSS of its processes."""

    def __init__(self, label: str, worker: Worker | None = None) -> None:
        self.label = label
        self.worker = worker
        self.seconds: list[float] = []
        self.peak_kib = 0

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--partners", type=int, default=2_000)
    parser.add_argument("--clients", type=int, default=100_000)
    parser.add_argument("--workers", default="1,2", help="worker process counts, e.g. 1,2")
    parser.add_argument("--runs", type=int, default=1, help="timed closes per worker count")
    parser.add_argument("--chunk-size", type=int, help="BILLING_RATING_CHUNK_SIZE")
    parser.add_argument("--max-chunks", type=int, help="BILLING_RATING_MAX_CHUNKS")
    parser.add_argument("--profile", action="store_true", help="cProfile one in-process close")
    parser.add_argument("--explain", action="store_true", help="EXPLAIN ANALYZE the queries")
    parser.add_argument(
        "--no-history",
        dest="history",
        action="store_false",
        help="no finalized invoices of an earlier month (the invoice tables empty before a "
        "first close, as before)",
    )
    args = parser.parse_args()
    counts = [int(c) for c in args.workers.split(",")]
    os.environ.setdefault("DATABASE_CONN_MAX_AGE", "3600")

    with bench_database() as database:
        from django.conf import settings
        from django.db import connection
        from django_tenants.utils import schema_context

        from billing.models import RatingChunk
        from billing.services.periods import CHUNK_JIT, DEFAULT_WORK_MEM
        from core.actors import Actor
        from tenancy.services import vendor_create

        # period_close (in this process) splits the partners into chunks.
        if args.chunk_size:
            settings.BILLING_RATING_CHUNK_SIZE = args.chunk_size
        if args.max_chunks:
            settings.BILLING_RATING_MAX_CHUNKS = args.max_chunks
        work_mem = getattr(settings, "BILLING_RATING_WORK_MEM", DEFAULT_WORK_MEM)
        vendor = vendor_create(
            name="Bench Rating",
            slug="bench-rating",
            domain=HOST,
            timezone="Europe/Berlin",
            currency="EUR",
            actor=Actor.system("bench"),
        )
        world = World()
        world.schema = vendor.schema_name
        workers: list[Worker] = []
        try:
            with schema_context(vendor.schema_name):
                from billing.closing.rate import vendor_today

                world.month = _previous_month(vendor_today())
                started = time.perf_counter()
                _fill(world, args.partners, args.clients, args.events)
                print(f"  data ready in {time.perf_counter() - started:.1f} s", file=sys.stderr)
                with connection.cursor() as cursor:
                    cursor.execute("SHOW max_parallel_workers_per_gather")
                    parallel = cursor.fetchone()[0]
                    cursor.execute("SELECT pg_backend_pid()")
                    own_backend = cursor.fetchone()[0]
                    # Fair: the baseline gets the work_mem and JIT setting each rating chunk
                    # sets for itself.
                    if work_mem:
                        cursor.execute("SELECT set_config('work_mem', %s, false)", [work_mem])
                    cursor.execute("SELECT set_config('jit', %s, false)", [CHUNK_JIT])

                if args.profile or args.explain:
                    close_inline(world)  # the first close (inserts), then a re-rating profiled
                    if args.history:
                        add_history(world)
                    if args.explain:
                        _explain(world)
                    if args.profile:
                        _profile(world)
                    return 0

                for count in counts:
                    worker = Worker(count)
                    workers.append(worker)
                    worker.start()
                print(f"  workers ready: {[w.pids() for w in workers]}", file=sys.stderr)
                # Untimed: one close (warm cache, the reference rows), and a warm baseline.
                baseline(world)
                warm = close_once(world, workers[-1])
                if args.history:
                    add_history(world)
                reference = digest()
                chunk_sizes = sorted(
                    len(ids)
                    for ids in RatingChunk.objects.filter(
                        run=RatingChunk.objects.latest("id").run
                    ).values_list("partner_ids", flat=True)
                )
                print(
                    f"  untimed first close: {warm:.1f} s; {reference[0]:,} invoices, "
                    f"{reference[1]:,} lines, {len(chunk_sizes)} chunks",
                    file=sys.stderr,
                )

                base = Side("baseline: SQL GROUP BY, all rows fetched")
                first = {
                    w.processes: Side(f"first close, {w.processes} process(es)", w) for w in workers
                }
                again = {
                    w.processes: Side(f"re-rating, {w.processes} process(es)", w) for w in workers
                }
                backend_peak = 0
                groups = 0
                own_peak_reset = True
                for run in range(args.runs):
                    order = workers if run % 2 == 0 else list(reversed(workers))
                    for worker in order:
                        for side, from_open in (
                            (first[worker.processes], True),
                            (again[worker.processes], False),
                        ):
                            if from_open:
                                reset_to_open(world)
                            seconds, groups = baseline(world)
                            base.seconds.append(seconds)
                            own_peak_reset &= reset_peak([os.getpid(), *worker.pids()])
                            with BackendWatcher(database, own_backend) as watcher:
                                seconds = close_once(world, worker)
                            side.seconds.append(seconds)
                            side.peak_kib = max(
                                side.peak_kib,
                                *(_status_kib(pid, "VmHWM") for pid in worker.pids()),
                            )
                            backend_peak = max(backend_peak, watcher.peak_kib)
                            if digest() != reference:
                                raise RuntimeError(f"{side.label} wrote different invoices")
                            print(
                                f"  run {run + 1}: baseline {base.seconds[-1]:.2f} s, "
                                f"{side.label} {seconds:.2f} s",
                                file=sys.stderr,
                            )
                own_peak = _status_kib(os.getpid(), "VmHWM")
        finally:
            for worker in workers:
                worker.stop()

    print(
        f"\nrating — {world.events:,} events, {world.partners:,} partners, {world.clients:,} "
        f"clients ({world.billed_clients:,} billed), 3 meters (sum, unique_count, count) and "
        f"seats, 2 price plans; {reference[0]:,} invoices, {reference[1]:,} lines; "
        f"{groups:,} (partner, client, meter) groups; {len(chunk_sizes)} chunks of "
        f"{chunk_sizes[0]}–{chunk_sizes[-1]} partners; work_mem {work_mem or 'as configured'}, "
        f"jit {CHUNK_JIT} (both sides); max_parallel_workers_per_gather = {parallel}; "
        f"{args.runs} run(s); database {database}"
    )
    top = max(counts)
    rows = [[base.label, f"{base.median:8.2f}", "", "", ""]]
    for sides in (first, again):
        for count in counts:
            side = sides[count]
            ratio = side.median / base.median
            rows.append(
                [
                    side.label,
                    f"{side.median:8.2f}",
                    f"{ratio:5.2f}×",
                    f"{side.peak_kib / 1024:6.0f}",
                    verdict_close(ratio) if count == top else "",
                ]
            )
    print_table(["", "seconds", "÷ baseline", "peak RSS MiB", "verdict"], rows)
    worst_rss = max([*(s.peak_kib for s in (*first.values(), *again.values())), own_peak]) * 1024
    print(
        f"\nthis process peak RSS {own_peak / 1024:.0f} MiB; PostgreSQL backends serving the "
        f"workers peak RSS {backend_peak / 1024:.0f} MiB (incl. shared buffers touched)"
        + ("" if own_peak_reset else "; VmHWM could not be reset: lifetime peaks")
    )
    if 1 in counts and 2 in counts:
        for name, sides in (("first close", first), ("re-rating", again)):
            speedup = sides[1].median / sides[2].median
            print(
                f"{name}: speed-up 1 → 2 worker processes {speedup:.2f}×  "
                f"(goal ≥ {SPEEDUP_GOAL}×)  {'MET' if speedup >= SPEEDUP_GOAL else 'NOT MET'}"
            )
    for name, sides in (("first close", first), ("re-rating", again)):
        ratio = sides[top].median / base.median
        print(
            f"{name} ({top} process(es)) / baseline = {ratio:.2f}×  (target ≤ {TARGET}×)  "
            f"{verdict_close(ratio)}"
        )
    rss_ok = worst_rss < MEMORY_LIMIT and backend_peak * 1024 < MEMORY_LIMIT
    print(
        f"peak RSS of any process {max(worst_rss, backend_peak * 1024) / 2**20:.0f} MiB  "
        f"(target < 1024 MiB)  {'PASS' if rss_ok else 'FAIL'}"
    )
    return 0


def verdict_close(ratio: float) -> str:
    return "PASS" if ratio <= TARGET else "FAIL"


if __name__ == "__main__":
    raise SystemExit(main())
