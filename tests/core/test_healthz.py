"""/healthz checks the database and the broker, on the platform host and on every vendor host."""

from __future__ import annotations

import socket

import pytest

from tests.conftest import PLATFORM_HOST, host_client

pytestmark = pytest.mark.django_db


def closed_port() -> int:
    """A local TCP port nobody listens on (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def healthz(host: str):
    return host_client(host).get("/healthz")


@pytest.mark.parametrize("host", [PLATFORM_HOST, "vendor-a.localhost", "vendor-b.localhost"])
def test_healthy_on_every_host(vendor_a, vendor_b, host):
    response = healthz(host)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert "no-cache" in response["Cache-Control"]
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"] == {"database": "ok", "broker": "ok"}
    assert isinstance(body["duration_ms"], float)


@pytest.mark.parametrize("host", [PLATFORM_HOST, "vendor-a.localhost"])
def test_broker_down_is_503_naming_the_broker(vendor_a, settings, host):
    settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{closed_port()}/0"
    response = healthz(host)
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["broker"].startswith("ConnectionError: ")
    assert "refused" in body["checks"]["broker"].lower()


def test_database_failure_is_503_naming_the_database(vendor_a, monkeypatch):
    from core import views

    class BrokenConnection:
        def cursor(self):
            raise RuntimeError("database is gone")

    monkeypatch.setattr(views, "connection", BrokenConnection())
    response = healthz(PLATFORM_HOST)
    assert response.status_code == 503
    assert response.json()["checks"] == {
        "database": "RuntimeError: database is gone",
        "broker": "ok",
    }


def test_unix_socket_broker_url_is_understood(settings, tmp_path):
    # Kombu's `redis+socket://` spelling is turned into redis-py's `unix://`, so a missing socket
    # is reported as such rather than as an unknown URL scheme.
    settings.CELERY_BROKER_URL = f"redis+socket://{tmp_path}/missing.sock"
    response = healthz(PLATFORM_HOST)
    assert response.status_code == 503
    broker = response.json()["checks"]["broker"]
    assert broker.startswith("ConnectionError: ")
    assert "missing.sock" in broker
