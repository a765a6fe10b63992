"""A real webhook receiver for the tests (a threaded http.server on 127.0.0.1) and an independent
implementation of the signature check, written from the documented scheme, not from our code."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from webhooks.payloads import builder_for, register_payload_builder, unregister_payload_builder


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> dict:
        return json.loads(self.body)


@dataclass
class Receiver:
    """Answers each POST with the next planned (status, delay seconds, body); 200 when the plan
    runs out. Records what it got."""

    server: ThreadingHTTPServer
    plan: list[tuple[int, float, bytes]] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}/hooks/msp"

    def wait_for(self, count: int, timeout: float = 20.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.received) >= count:
                    return list(self.received)
            time.sleep(0.05)
        raise AssertionError(f"expected {count} request(s), got {len(self.received)}")


@contextmanager
def receiver(*plan: tuple[int, float, bytes]) -> Iterator[Receiver]:
    state: dict[str, Receiver] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            rec = state["receiver"]
            with rec.lock:
                rec.received.append(Received(self.path, dict(self.headers.items()), body))
                status, delay, answer = rec.plan.pop(0) if rec.plan else (200, 0.0, b"ok")
            if delay:
                time.sleep(delay)
            try:
                self.send_response(status)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)
            except OSError:
                pass  # the client gave up (a timeout test)

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state["receiver"] = Receiver(server=server, plan=list(plan))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state["receiver"]
    finally:
        server.shutdown()
        server.server_close()


def refused_url() -> str:
    """A local port nothing listens on (connection refused)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return f"http://127.0.0.1:{port}/hooks"


def verify(secret: str, headers: dict[str, str], body: bytes, *, tolerance: int = 300) -> bool:
    """What an integrator's receiver does (docs/api.md): HMAC-SHA256 over "{timestamp}.{body}",
    compared in constant time, and the timestamp within `tolerance` seconds of now."""
    timestamp = headers["Webhook-Timestamp"]
    expected = hmac.new(
        secret.encode("utf-8"), timestamp.encode("ascii") + b"." + body, hashlib.sha256
    ).hexdigest()
    scheme, _, given = headers["Webhook-Signature"].partition("=")
    fresh = abs(time.time() - int(timestamp)) <= tolerance
    return scheme == "v1" and hmac.compare_digest(expected, given) and fresh


@contextmanager
def payload_builder(event_type: str, builder) -> Iterator[None]:
    """Register a test builder, putting back whatever was registered before."""
    previous = builder_for(event_type)
    register_payload_builder(event_type, builder)
    try:
        yield
    finally:
        if previous is None:
            unregister_payload_builder(event_type)
        else:
            register_payload_builder(event_type, previous)
