"""A real localstripe server for the payments tests, started as a subprocess on a free port.

localstripe keeps its state in memory and, after every write, pickles it to the fixed path
/tmp/localstripe.pickle; several test runs on one machine would share (and race on) that file, so
the launcher below turns the dump off and starts `--from-scratch`. Everything else is localstripe
as `localstripe --port N` runs it.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

LAUNCHER = (
    "import sys, localstripe.resources as r; "
    "r.Store.dump_to_disk = lambda self: None; "
    "from localstripe.server import start; "
    "sys.argv = ['localstripe', '--port', sys.argv[1], '--from-scratch']; start()"
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LocalStripe:
    def __init__(self, log_dir: Path) -> None:
        self.port = free_port()
        self.url = f"http://localhost:{self.port}"
        self.log = log_dir / f"localstripe-{self.port}.log"
        self.process: subprocess.Popen | None = None

    def start(self) -> LocalStripe:
        handle = self.log.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-c", LAUNCHER, str(self.port)],
            stdout=handle,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"localstripe exited: {self.log.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(f"{self.url}/js.stripe.com/v3/", timeout=1):
                    return self
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError("localstripe did not start within 30 seconds")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
