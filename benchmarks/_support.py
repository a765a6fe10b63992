"""Shared by the benchmarks: a throw-away database on the server of DATABASE_URL, Django set up
against it, and a small table printer.

Each benchmark creates `<database>_bench_<pid>`, migrates it (public + template schema), runs,
and drops it again, so it never touches the data in DATABASE_URL's own database. Cache keys get a
prefix of their own and are deleted at the end, so the Redis of REDIS_URL is left as it was.
"""

from __future__ import annotations

import contextlib
import io
import os
import statistics
import sys
import warnings
from collections.abc import Iterator
from urllib.parse import quote, unquote, urlsplit, urlunsplit

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/msp_program"


def _maintenance_conninfo() -> dict:
    """psycopg connection arguments for DATABASE_URL, parsed exactly as the settings parse it."""
    import environ

    config = environ.Env().db("DATABASE_URL", default=DEFAULT_DATABASE_URL)
    return {
        "host": unquote(config.get("HOST") or "") or None,  # a socket directory arrives %2F…
        "port": config.get("PORT") or None,
        "user": config.get("USER") or None,
        "password": config.get("PASSWORD") or None,
        "dbname": config.get("NAME") or "postgres",
    }


@contextlib.contextmanager
def bench_database() -> Iterator[str]:
    """Create a throw-away database, point Django at it, migrate it; drop it afterwards."""
    import psycopg

    source = os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL)
    conninfo = {k: v for k, v in _maintenance_conninfo().items() if v is not None}
    name = f"{conninfo['dbname']}_bench_{os.getpid()}"[:63]
    with psycopg.connect(**conninfo, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.execute(f'CREATE DATABASE "{name}"')
    parts = urlsplit(source)
    os.environ["DATABASE_URL"] = urlunsplit(parts._replace(path="/" + quote(name, safe="")))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "msp_program.settings.test")
    os.environ["CACHE_KEY_PREFIX"] = f"msp-bench-{os.getpid()}"
    # STATIC_ROOT is only filled by collectstatic; whitenoise's warning about it is noise here.
    warnings.filterwarnings("ignore", message="No directory at")
    try:
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate_platform", verbosity=0, stdout=io.StringIO())
        yield name
    finally:
        _forget_cache_keys()
        with contextlib.suppress(Exception):
            from django.db import connections

            connections.close_all()
        if os.environ.get("BENCH_KEEP_DATABASE"):  # to look at the data afterwards
            print(f"kept database {name}", file=sys.stderr)
        else:
            with psycopg.connect(**conninfo, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        os.environ["DATABASE_URL"] = source


def _forget_cache_keys() -> None:
    with contextlib.suppress(Exception):
        from django.conf import settings
        from django.core.cache import cache

        prefix = settings.CACHES["default"]["KEY_PREFIX"]
        client = cache._cache.get_client(write=True)
        for key in client.scan_iter(match=f"*:{prefix}:*", count=1000):
            client.delete(key)


def median_ms(samples_ns: list[int]) -> float:
    return statistics.median(samples_ns) / 1e6


def percentile_ms(samples_ns: list[int], q: float) -> float:
    ordered = sorted(samples_ns)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] / 1e6


def print_table(headers: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(str(c)) for c in col) for col in zip(headers, *rows, strict=True)]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))
    print(line)
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)))
    sys.stdout.flush()


def verdict(ratio: float, target: float) -> str:
    return "PASS" if ratio <= target else "FAIL"
