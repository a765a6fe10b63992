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
import threading
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import pytest
from django.contrib.sessions.models import Session
from django.db import connections
from django.db.models import Max
from django_tenants.utils import schema_context
from pytest_django.live_server_helper import LiveServer

from accounts.models import User
from core.models import AuditEntry
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


def committed(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run `fn` on a fresh thread, i.e. its own connection in autocommit: what it writes is
    committed at once and visible to the live server, unlike the test's rolled-back transaction."""
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["value"] = fn(*args, **kwargs)
        except BaseException as exc:
            outcome["error"] = exc
        finally:
            connections.close_all()

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


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
