"""A small local stand-in for Stripe Connect's transfer endpoints, for payout tests.

It follows Stripe's documented request and response shapes for the calls payouts make:
- POST /v1/transfers (form-encoded: amount, currency, destination, transfer_group,
  metadata[...]) → a `transfer` object;
- GET /v1/transfers?transfer_group=…&limit=… → a `list` object, newest first;
- GET /v1/accounts/{id} → an `account` object (404 `resource_missing` for unknown ones).
Errors use Stripe's `{"error": {"type", "code", "message", "param"}}` shape.

Like localstripe, it does NOT honour idempotency keys: a second POST with the same key creates a
second transfer, which is what "more than 24 hours later" looks like on real Stripe. So the
payout code's exactly-once must come from its own state machine and the transfer-group lookup.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


class FakeConnect:
    def __init__(self) -> None:
        self.accounts: set[str] = set()
        self.transfers: list[dict] = []
        self.requests: list[tuple[str, str]] = []
        self.balance_available: int | None = None  # minor units; None = unlimited
        self.answer_delay = 0.0  # seconds between accepting a transfer and answering
        self.accepted = threading.Event()  # set when a transfer has been created
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeConnect:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def add_account(self, account_id: str) -> str:
        self.accounts.add(account_id)
        return account_id

    def transfers_of(self, transfer_group: str) -> list[dict]:
        return [t for t in self.transfers if t["transfer_group"] == transfer_group]

    # --- HTTP --------------------------------------------------------------------------------

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # keep test output quiet
                pass

            def _send(self, status: int, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Request-Id", f"req_{next(fake._ids)}")
                self.end_headers()
                self.wfile.write(data)

            def _error(self, status: int, type_: str, message: str, **extra) -> None:
                self._send(status, {"error": {"type": type_, "message": message, **extra}})

            def _authorized(self) -> bool:
                if not self.headers.get("Authorization", "").startswith("Bearer sk_"):
                    self._error(401, "invalid_request_error", "Invalid API Key provided.")
                    return False
                return True

            def do_GET(self) -> None:
                url = urlsplit(self.path)
                fake.requests.append(("GET", url.path))
                if not self._authorized():
                    return
                query = {k: v[-1] for k, v in parse_qs(url.query).items()}
                if url.path == "/v1/transfers":
                    with fake._lock:
                        found = [
                            t
                            for t in reversed(fake.transfers)
                            if "transfer_group" not in query
                            or t["transfer_group"] == query["transfer_group"]
                        ]
                    limit = int(query.get("limit", 10))
                    self._send(
                        200,
                        {
                            "object": "list",
                            "url": "/v1/transfers",
                            "has_more": len(found) > limit,
                            "data": found[:limit],
                        },
                    )
                    return
                if url.path.startswith("/v1/accounts/"):
                    account = url.path.rsplit("/", 1)[-1]
                    if account not in fake.accounts:
                        self._error(
                            404,
                            "invalid_request_error",
                            f"No such account: '{account}'",
                            code="resource_missing",
                            param="account",
                        )
                        return
                    self._send(200, {"id": account, "object": "account", "type": "express"})
                    return
                self._error(404, "invalid_request_error", f"Unrecognized request URL {url.path}")

            def do_POST(self) -> None:
                url = urlsplit(self.path)
                fake.requests.append(("POST", url.path))
                if not self._authorized():
                    return
                length = int(self.headers.get("Content-Length") or 0)
                form = {k: v[-1] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
                if url.path != "/v1/transfers":
                    self._error(404, "invalid_request_error", "Unrecognized request URL")
                    return
                for name in ("amount", "currency", "destination"):
                    if not form.get(name):
                        self._error(
                            400,
                            "invalid_request_error",
                            f"Missing required param: {name}.",
                            code="parameter_missing",
                            param=name,
                        )
                        return
                if form["destination"] not in fake.accounts:
                    self._error(
                        400,
                        "invalid_request_error",
                        f"No such destination: '{form['destination']}'",
                        code="resource_missing",
                        param="destination",
                    )
                    return
                amount = int(form["amount"])
                with fake._lock:
                    if fake.balance_available is not None:
                        if amount > fake.balance_available:
                            self._error(
                                400,
                                "invalid_request_error",
                                "You have insufficient funds in your Stripe account.",
                                code="balance_insufficient",
                            )
                            return
                        fake.balance_available -= amount
                    metadata = {
                        key[len("metadata[") : -1]: value
                        for key, value in form.items()
                        if key.startswith("metadata[")
                    }
                    transfer = {
                        "id": f"tr_{next(fake._ids):08d}",
                        "object": "transfer",
                        "amount": amount,
                        "amount_reversed": 0,
                        "currency": form["currency"],
                        "created": int(time.time()),
                        "destination": form["destination"],
                        "livemode": False,
                        "metadata": metadata,
                        "reversed": False,
                        "transfer_group": form.get("transfer_group"),
                    }
                    fake.transfers.append(transfer)
                fake.accepted.set()
                if fake.answer_delay:
                    time.sleep(fake.answer_delay)  # a kill lands after Stripe accepted it
                self._send(200, transfer)

        return Handler
