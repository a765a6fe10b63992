"""End to end with a real Celery worker process and a real local receiver: a committed event is
dispatched on commit, signed and POSTed by the worker, retried after a failure (a 1-second
schedule for the test), and a delivery whose task was lost is found by the sweep."""

from __future__ import annotations

import datetime
import time
from unittest import mock

import pytest
from django.utils import timezone
from django_tenants.utils import schema_context

from core.actors import Actor
from core.models import AuditEntry
from msp_program.celery import app
from tests.celery_worker import start_worker
from tests.committed import committed
from webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookEvent
from webhooks.services.endpoints import webhook_endpoint_create
from webhooks.services.events import webhook_events_emit, webhook_test_event_send

from .support import receiver, verify

pytestmark = [pytest.mark.worker, pytest.mark.django_db]
ACTOR = Actor.system("webhook worker tests")


def wait_until(check, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = committed(check)
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError("timed out")


def test_a_real_worker_delivers_retries_and_sweeps(vendor_a, monkeypatch):
    schema = vendor_a.schema
    monkeypatch.setenv("WEBHOOKS_RETRY_SCHEDULE", "1,1")
    made: list[int] = []
    worker = start_worker("webhooks")
    try:
        with receiver((500, 0, b"try again"), (200, 0, b"ok"), (200, 0, b"ok")) as rec:

            def create_and_send():
                with schema_context(schema):
                    endpoint = webhook_endpoint_create(
                        url=rec.url, event_types=["invoice.paid"], actor=ACTOR
                    )
                    made.append(endpoint.pk)
                    delivery = webhook_test_event_send(endpoint=endpoint, actor=ACTOR)
                    return endpoint, delivery.pk

            endpoint, delivery_id = committed(create_and_send)
            first, second = rec.wait_for(2)
            assert first.headers["Webhook-Id"] == second.headers["Webhook-Id"]
            assert verify(endpoint.secret, second.headers, second.body)
            assert second.json()["type"] == "webhook.test"
            assert second.json()["data"]["endpoint"] == endpoint.pk

            def succeeded():
                with schema_context(schema):
                    d = WebhookDelivery.objects.get(pk=delivery_id)
                    return d.status == "succeeded" and d

            delivery = wait_until(succeeded)
            assert delivery.attempts == 2

            def attempts():
                with schema_context(schema):
                    return list(
                        WebhookAttempt.objects.filter(delivery_id=delivery_id)
                        .order_by("number")
                        .values_list("number", "status_code")
                    )

            assert committed(attempts) == [(1, 500), (2, 200)]

            # A delivery whose task never reached the broker: the sweep (beat's per-vendor
            # task) sends it.
            def lost():
                with schema_context(schema):
                    with mock.patch("webhooks.services.events._dispatch"):
                        (d,) = webhook_events_emit(
                            event_type="invoice.paid",
                            payloads=[{"id": 99}],
                            endpoints=[WebhookEndpoint.objects.get(pk=endpoint.pk)],
                        )
                    WebhookDelivery.objects.filter(pk=d.pk).update(
                        next_attempt_at=timezone.now() - datetime.timedelta(minutes=5)
                    )
                    return d.pk

            lost_id = committed(lost)
            with schema_context(schema):
                app.send_task(
                    "webhooks.tasks.send_due_deliveries", headers={"_schema_name": schema}
                )
            third = rec.wait_for(3)[2]
            assert third.json()["data"] == {"id": 99}

            def lost_delivered():
                with schema_context(schema):
                    return WebhookDelivery.objects.get(pk=lost_id).status == "succeeded"

            wait_until(lost_delivered)
    finally:
        worker.stop()
        worker.cleanup()

        def cleanup():
            with schema_context(schema):
                events = list(
                    WebhookEvent.objects.filter(deliveries__endpoint_id__in=made).values_list(
                        "pk", flat=True
                    )
                )
                WebhookEndpoint.objects.filter(pk__in=made).delete()
                AuditEntry.objects.filter(
                    object_type="webhooks.webhookendpoint", object_id__in=[str(pk) for pk in made]
                ).delete()
                WebhookEvent.objects.filter(pk__in=events).delete()

        committed(cleanup)
