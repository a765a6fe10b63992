"""A real Celery worker process runs each task in the schema of the vendor that dispatched it.

The worker is started once for this module (solo pool, one process, queue `celery`) against the
test database and the test Redis, and stopped by its pid at the end. It only sees committed rows:
the tenants and users created at session setup.
"""

from __future__ import annotations

import json

import pytest
from django_tenants.utils import schema_context

from accounts.models import User
from core.actors import Actor
from msp_program.celery import app
from tenancy.models import PUBLIC_SCHEMA, Vendor
from tenancy.services import vendor_suspend
from tenancy.tasks import fan_out_to_vendors, vendor_probe
from tests.celery_worker import WorkerFailed, start_worker

pytestmark = [pytest.mark.worker, pytest.mark.django_db]

RESULT_TIMEOUT = 10.0


@pytest.fixture(scope="module")
def worker(django_db_setup, django_db_blocker):
    """A running `celery worker` process; yields its node name."""
    try:
        process = start_worker("iso-test")
    except WorkerFailed as exc:
        pytest.fail(str(exc))
    try:
        yield process.nodename
    finally:
        process.stop()
        with django_db_blocker.unblock():
            left = process.wait_for_no_connections()
        process.cleanup()
        assert left == 0, "the worker left connections open on the test database"


def committed_emails(schema: str) -> list[str]:
    with schema_context(schema):
        return list(User.objects.order_by("email").values_list("email", flat=True))


def active_vendor_schemas() -> list[str]:
    with schema_context(PUBLIC_SCHEMA):
        return sorted(
            Vendor.objects.exclude(schema_name=PUBLIC_SCHEMA)
            .filter(status="active")
            .values_list("schema_name", flat=True)
        )


def test_probe_runs_in_the_dispatching_vendors_schema(worker, vendor_a, vendor_b):
    with schema_context(vendor_a.schema):
        result_a = vendor_probe.delay()
    with schema_context(vendor_b.schema):
        result_b = vendor_probe.delay()
    result_public = vendor_probe.delay()  # dispatched from the public schema

    probe_a = result_a.get(timeout=RESULT_TIMEOUT)
    probe_b = result_b.get(timeout=RESULT_TIMEOUT)
    assert probe_a == {
        "schema": vendor_a.schema,
        "vendor": "vendor-a",
        "users": committed_emails(vendor_a.schema),
    }
    assert probe_b == {
        "schema": vendor_b.schema,
        "vendor": "vendor-b",
        "users": committed_emails(vendor_b.schema),
    }
    assert "admin@vendor-a.example" in probe_a["users"]
    assert "admin@vendor-b.example" not in probe_a["users"]
    assert "admin@vendor-b.example" in probe_b["users"]
    assert "admin@vendor-a.example" not in probe_b["users"]
    assert result_public.get(timeout=RESULT_TIMEOUT) == {
        "schema": "public",
        "vendor": None,
        "users": committed_emails(PUBLIC_SCHEMA),
    }


def test_interleaved_dispatch_never_leaks_the_previous_schema(worker, vendor_a, vendor_b):
    # One worker process, tasks alternating between vendors: each must switch, none may inherit.
    results = []
    for schema in [vendor_a.schema, vendor_b.schema, vendor_b.schema, vendor_a.schema] * 2:
        with schema_context(schema):
            results.append((schema, vendor_probe.delay()))
    for schema, result in results:
        assert result.get(timeout=RESULT_TIMEOUT)["schema"] == schema


def test_fan_out_in_the_worker_reaches_every_active_vendor_once(worker, vendor_a, vendor_b):
    expected = active_vendor_schemas()
    assert {vendor_a.schema, vendor_b.schema} <= set(expected)
    results_key = "celery-task-meta-*"
    redis = app.backend.client
    known = set(redis.keys(results_key))

    # The beat path: fan-out itself runs in the worker, in the public schema.
    assert fan_out_to_vendors.delay("tenancy.tasks.vendor_probe").get(
        timeout=RESULT_TIMEOUT
    ) == len(expected)

    # The worker takes one message at a time, first in first out: once a probe sent now has
    # run, every probe the fan-out sent before it has run too, and any duplicate would show.
    vendor_probe.delay().get(timeout=RESULT_TIMEOUT)
    probes = []
    for key in set(redis.keys(results_key)) - known:
        meta = json.loads(redis.get(key))
        assert meta["status"] == "SUCCESS", meta
        if isinstance(meta["result"], dict) and meta["result"]["schema"] != PUBLIC_SCHEMA:
            probes.append(meta["result"])
    assert sorted(p["schema"] for p in probes) == expected
    for probe in probes:
        assert probe["users"] == committed_emails(probe["schema"])


def test_fan_out_skips_suspended_vendors(worker, vendor_a, vendor_b, monkeypatch):
    # Suspended inside this test's transaction: visible to the fan-out run here, in-process;
    # the probes it dispatches still run in the real worker.
    vendor_suspend(vendor=vendor_b.vendor, reason="Unpaid", actor=Actor.system("tests"))
    expected = active_vendor_schemas()
    assert vendor_a.schema in expected
    assert vendor_b.schema not in expected

    sent = []
    real_send_task = app.send_task

    def recording_send_task(name, *args, **kwargs):
        result = real_send_task(name, *args, **kwargs)
        sent.append((name, kwargs.get("headers", {}).get("_schema_name"), result))
        return result

    monkeypatch.setattr(app, "send_task", recording_send_task)
    assert fan_out_to_vendors("tenancy.tasks.vendor_probe") == len(expected)

    assert sorted(schema for _name, schema, _result in sent) == expected
    assert {name for name, _schema, _result in sent} == {"tenancy.tasks.vendor_probe"}
    ran_in = sorted(result.get(timeout=RESULT_TIMEOUT)["schema"] for *_, result in sent)
    assert ran_in == expected
