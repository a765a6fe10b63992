"""Starting and stopping a real `celery worker` process against the test database and Redis.

The worker only sees committed rows. Its database connections carry `application_name`, so a test
can wait for them to be gone after stopping it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from django.conf import settings
from django.db import connection

from msp_program.celery import app

BASE_DIR = Path(__file__).resolve().parents[1]
START_TIMEOUT = 20.0
STOP_TIMEOUT = 10.0


def test_database_url(application_name: str) -> str:
    """DATABASE_URL for the *test* database (pytest-django renamed NAME to test_<name>)."""
    db = settings.DATABASES["default"]
    auth = quote(db.get("USER") or "", safe="")
    if db.get("PASSWORD"):
        auth += ":" + quote(db["PASSWORD"], safe="")
    host = quote(db.get("HOST") or "", safe="")  # a socket directory becomes %2F…
    port = f":{db['PORT']}" if db.get("PORT") else ""
    return (
        f"postgres://{auth}@{host}{port}/{quote(db['NAME'], safe='')}"
        f"?application_name={application_name}"
    )


def connections_of(application_name: str) -> int:
    with connection.cursor() as cursor:
        # pg_stat_activity is a snapshot taken once per transaction, and a test runs in one:
        # without clearing it, a poll would keep seeing a backend that has long ended.
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s",
            [application_name],
        )
        return cursor.fetchone()[0]


def log_tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


class WorkerFailed(RuntimeError):
    pass


@dataclass
class Worker:
    proc: subprocess.Popen
    nodename: str
    log_file: Path
    application_name: str

    def stop(self) -> None:
        """SIGTERM (warm shutdown), SIGKILL if it does not stop in time."""
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=STOP_TIMEOUT)

    def kill(self) -> None:
        """SIGKILL at once, as when a machine dies: nothing is acknowledged or cleaned up."""
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=STOP_TIMEOUT)

    def wait_for_no_connections(self) -> int:
        """PostgreSQL ends a killed client's backends soon; the number still open at timeout."""
        deadline = time.monotonic() + STOP_TIMEOUT
        while connections_of(self.application_name) and time.monotonic() < deadline:
            time.sleep(0.1)
        return connections_of(self.application_name)

    def cleanup(self) -> None:
        self.log_file.unlink(missing_ok=True)


def start_worker(prefix: str = "test", *, purge: bool = True) -> Worker:
    """A solo-pool worker on queue `celery`, answering pings before this returns."""
    nodename = f"{prefix}-{uuid.uuid4().hex[:8]}@localhost"
    application_name = f"celery-{prefix}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "msp_program.settings.test",
        "DATABASE_URL": test_database_url(application_name),
        "DATABASE_CONN_MAX_AGE": "0",  # close after each task: nothing lingers on the test db
        "REDIS_URL": settings.REDIS_URL,
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "CELERY_RESULT_BACKEND": settings.CELERY_RESULT_BACKEND,
        "CACHE_KEY_PREFIX": settings.CACHES["default"]["KEY_PREFIX"],
    }
    if purge:
        app.control.purge()  # messages left by earlier runs must not reach this worker
    log_file = Path(tempfile.mkstemp(prefix="celery-worker-", suffix=".log")[1])
    with log_file.open("wb") as log:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "msp_program",
                "worker",
                "--pool=solo",
                "-c",
                "1",
                "-Q",
                "celery",
                "-n",
                nodename,
                "-l",
                "WARNING",
                "--without-gossip",
                "--without-mingle",
            ],
            cwd=BASE_DIR,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    worker = Worker(proc, nodename, log_file, application_name)
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        if proc.poll() is not None:
            raise WorkerFailed(
                f"celery worker exited with {proc.returncode}:\n{log_tail(log_file)}"
            )
        if app.control.ping(destination=[nodename], timeout=0.5):
            return worker
        if time.monotonic() > deadline:
            worker.stop()
            raise WorkerFailed(f"celery worker did not answer a ping:\n{log_tail(log_file)}")
