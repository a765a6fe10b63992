"""Two workers never send the same attempt: real concurrent claims on committed rows, each on its
own database connection."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any
from unittest import mock

import pytest
from django.db import connections, transaction
from django_tenants.utils import schema_context

from core.actors import Actor
from core.models import AuditEntry
from tests.committed import committed
from webhooks.models import WebhookDelivery, WebhookEndpoint, WebhookEvent
from webhooks.services.deliveries import delivery_attempt, delivery_claim
from webhooks.services.endpoints import webhook_endpoint_create
from webhooks.services.events import webhook_events_emit

from .support import receiver

pytestmark = pytest.mark.django_db
ACTOR = Actor.system("webhook tests")


def in_threads(schema: str, *fns: Callable[[], Any]) -> list[Any]:
    """Run each fn on its own thread (own connection, autocommit), started together."""
    barrier = threading.Barrier(len(fns))
    results: list[Any] = [None] * len(fns)

    def run(index: int, fn: Callable[[], Any]) -> None:
        try:
            with schema_context(schema):
                barrier.wait()
                results[index] = fn()
        except BaseException as exc:
            results[index] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i, fn)) for i, fn in enumerate(fns)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return results


@pytest.fixture
def committed_deliveries(vendor_a):
    """Returns make(url, n) → n committed deliveries to one endpoint; all removed afterwards."""
    made: list[int] = []

    def make(url: str, n: int) -> list[int]:
        def write() -> list[int]:
            with schema_context(vendor_a.schema):
                endpoint = webhook_endpoint_create(
                    url=url, event_types=["invoice.paid"], actor=ACTOR
                )
                made.append(endpoint.pk)
                # No Celery here: the test plays the workers itself.
                with mock.patch("webhooks.services.events._dispatch"):
                    deliveries = webhook_events_emit(
                        event_type="invoice.paid",
                        payloads=[{"id": i} for i in range(n)],
                        endpoints=[endpoint],
                    )
                return [d.pk for d in deliveries]

        return committed(write)

    yield make

    def cleanup() -> None:
        with schema_context(vendor_a.schema):
            events = WebhookEvent.objects.filter(deliveries__endpoint_id__in=made)
            event_ids = list(events.values_list("pk", flat=True))
            WebhookEndpoint.objects.filter(pk__in=made).delete()
            AuditEntry.objects.filter(
                object_type="webhooks.webhookendpoint", object_id__in=[str(pk) for pk in made]
            ).delete()
            WebhookEvent.objects.filter(pk__in=event_ids).delete()

    committed(cleanup)


def test_two_workers_racing_for_each_delivery_send_each_once(vendor_a, committed_deliveries):
    # The receiver answers slowly, so the two sends would overlap if both were allowed.
    with receiver(*[(200, 0.2, b"ok")] * 10) as rec:
        ids = committed_deliveries(rec.url, 5)
        for delivery_id in ids:
            outcomes = in_threads(
                vendor_a.schema,
                lambda d=delivery_id: delivery_attempt(delivery_id=d),
                lambda d=delivery_id: delivery_attempt(delivery_id=d),
            )
            assert sorted(outcomes) == ["skipped", "succeeded"], outcomes
        assert len(rec.received) == 5
        assert len({r.headers["Webhook-Id"] for r in rec.received}) == 5
    with schema_context(vendor_a.schema):
        assert (
            sorted(WebhookDelivery.objects.filter(pk__in=ids).values_list("status", "attempts"))
            == [("succeeded", 1)] * 5
        )


def test_a_delivery_locked_by_one_worker_is_skipped_by_another(vendor_a, committed_deliveries):
    (delivery_id,) = committed_deliveries("http://127.0.0.1:9/never", 1)
    locked = threading.Event()
    release = threading.Event()

    def hold_lock() -> str:
        with transaction.atomic():
            WebhookDelivery.objects.select_for_update().get(pk=delivery_id)
            locked.set()
            release.wait(10)
        return "held"

    def claim_while_locked():
        locked.wait(10)
        try:
            return delivery_claim(delivery_id=delivery_id)
        finally:
            release.set()

    held, claim = in_threads(vendor_a.schema, hold_lock, claim_while_locked)
    assert (held, claim) == ("held", None)
    with schema_context(vendor_a.schema):
        delivery = WebhookDelivery.objects.get(pk=delivery_id)
        assert (delivery.status, delivery.attempts) == ("pending", 0)
