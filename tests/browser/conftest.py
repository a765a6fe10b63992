"""A live server for browser tests that works on the session's committed tenants.

pytest-django's `live_server` forces `transactional_db`, whose teardown flushes every table of the
current schema: in the public schema that deletes the session-created vendors, domains and the
operator, which breaks every later test (and, with --reuse-db, later runs). So browser tests use
`tenant_live_server` with an ordinary `django_db` test instead: the test's own connection sits in a
transaction that is rolled back, and whatever the server must see is written by `committed()` on a
connection of its own, then removed again by `undo_commits`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import TypeVar

import pytest
from django.apps import apps
from django.conf import settings
from django.contrib.sessions.models import Session
from django.db import connections, transaction
from django.db.models import Max
from django_tenants.utils import schema_context
from pytest_django.live_server_helper import LiveServer

from accounts.models import User
from core.models import AuditEntry
from tests.committed import committed
from tests.conftest import TestVendor, chromium_path

T = TypeVar("T")

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def require_chromium() -> str:
    path = chromium_path()
    if path is None:
        if os.environ.get("REQUIRE_BROWSER") == "1":
            pytest.fail("Chromium is required (REQUIRE_BROWSER=1) but was not found.")
        pytest.skip("Chromium is not installed (apt-get install chromium).")
    return path


@pytest.fixture(scope="session")
def tenant_live_server(django_db_setup) -> Iterator[LiveServer]:
    """A threaded server on a free port; Chromium resolves *.localhost to it."""
    server = LiveServer("localhost:0")
    yield server
    server.stop()


def vendor_url(server: LiveServer, tv: TestVendor, path: str = "/") -> str:
    return f"http://{tv.host}:{server.thread.port}{path}"


class Commits:
    """What a browser test committed in a vendor's schema (audit rows, sessions, last logins),
    undone at teardown so later tests see the schema as it was."""

    def __init__(self, tv: TestVendor) -> None:
        self.tv = tv

    def _snapshot(self) -> None:
        with schema_context(self.tv.schema):
            self.audit_max = AuditEntry.objects.aggregate(m=Max("id"))["m"] or 0
            self.sessions = set(Session.objects.values_list("session_key", flat=True))
            self.last_logins = dict(User.objects.values_list("pk", "last_login"))

    def _restore(self) -> None:
        with schema_context(self.tv.schema):
            AuditEntry.objects.filter(id__gt=self.audit_max).delete()
            Session.objects.exclude(session_key__in=self.sessions).delete()
            for pk, last_login in self.last_logins.items():
                User.objects.filter(pk=pk).update(last_login=last_login)

    def __enter__(self) -> Commits:
        committed(self._snapshot)
        return self

    def __exit__(self, *exc: object) -> None:
        committed(self._restore)


@pytest.fixture
def undo_commits(vendor_a) -> Iterator[Commits]:
    with Commits(vendor_a) as commits:
        yield commits


class NewRows:
    """Every row committed in a vendor's schema while it is open, in every table of the vendor's
    apps with an integer primary key (sessions are Commits' business), deleted again on exit.

    For journeys whose server creates a whole web of rows (partners, users, invitations,
    agreements …): one generic undo instead of a hand-kept list that goes stale as models are
    added. The deletes run in one transaction with the foreign keys checked after the last one
    (Django makes them DEFERRABLE INITIALLY DEFERRED), so their order does not matter, and a new
    row still referenced by an old one fails the teardown loudly instead of leaving a dangling
    row. Tables whose triggers refuse deletes (agreement versions and acceptances are immutable)
    get their triggers switched off inside that transaction only: no other connection sees them
    off. Changes to rows that existed before are not undone (Commits restores last logins).
    """

    def __init__(self, tv: TestVendor) -> None:
        self.tv = tv
        self.max_ids: dict[tuple[str, str], int] = {}

    @staticmethod
    def _tables() -> list[tuple[str, str]]:
        """(table, primary-key column) of every model that lives in a vendor's schema."""
        labels = {cfg.label for cfg in apps.get_app_configs() if cfg.name in settings.TENANT_APPS}
        tables = set()
        for model in apps.get_models(include_auto_created=True):
            meta = model._meta
            if (
                meta.app_label in labels
                and meta.managed
                and not meta.proxy
                and meta.pk.get_internal_type() in {"AutoField", "BigAutoField", "SmallAutoField"}
            ):
                tables.add((meta.db_table, meta.pk.column))
        return sorted(tables)

    def _snapshot(self) -> None:
        schema = self.tv.schema
        with connections["default"].cursor() as cursor:
            for table, pk in self._tables():
                cursor.execute(f'SELECT COALESCE(MAX("{pk}"), 0) FROM "{schema}"."{table}"')
                self.max_ids[(table, pk)] = cursor.fetchone()[0]

    def _restore(self) -> None:
        schema = self.tv.schema
        with transaction.atomic(), connections["default"].cursor() as cursor:
            cursor.execute(
                "SELECT DISTINCT c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid"
                " JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE n.nspname = %s AND NOT t.tgisinternal",
                [schema],
            )
            guarded = {row[0] for row in cursor.fetchall()}
            doomed = []
            for (table, pk), max_id in self.max_ids.items():
                name = f'"{schema}"."{table}"'
                cursor.execute(f'SELECT EXISTS (SELECT 1 FROM {name} WHERE "{pk}" > %s)', [max_id])
                if cursor.fetchone()[0]:
                    doomed.append((name, pk, max_id, table in guarded))
            # Triggers can be switched only while no foreign-key check is pending on the table:
            # off before any delete, on again once the checks have run.
            for name, _, _, has_triggers in doomed:
                if has_triggers:
                    cursor.execute(f"ALTER TABLE {name} DISABLE TRIGGER USER")
            for name, pk, max_id, _ in doomed:
                cursor.execute(f'DELETE FROM {name} WHERE "{pk}" > %s', [max_id])
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            for name, _, _, has_triggers in doomed:
                if has_triggers:
                    cursor.execute(f"ALTER TABLE {name} ENABLE TRIGGER USER")

    def __enter__(self) -> NewRows:
        committed(self._snapshot)
        return self

    def __exit__(self, *exc: object) -> None:
        committed(self._restore)


@pytest.fixture
def undo_new_rows(vendor_a, undo_commits) -> Iterator[NewRows]:
    """undo_commits, plus every row committed meanwhile in vendor A's tables (see NewRows)."""
    with NewRows(vendor_a) as rows:
        yield rows
