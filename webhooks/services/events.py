"""Turning domain events into webhook events and deliveries.

`AppConfig.ready()` subscribes one handler per webhook type to its `core.events` type. A handler
runs inside the publisher's transaction: it finds the active endpoints that want the type (one
query; nothing more when there are none), asks the registered payload builder for the objects,
and writes one `WebhookEvent` per object and one `WebhookDelivery` per (event, endpoint) in bulk.
The deliveries are dispatched to Celery only on commit, so a rolled-back finalize sends nothing,
and the sweep (beat, every minute) sends anything whose task was lost.

These rows are the log of what was emitted; they get no audit rows of their own (an audit row per
invoice of a finalized month would only repeat the period's one).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from typing import Any

from django.db import transaction
from django.utils import timezone

from core.actors import Actor
from core.services.audit import audit_record

from ..enums import TEST_EVENT_TYPE, DeliveryStatus
from ..errors import WebhookError
from ..models import WebhookDelivery, WebhookEndpoint, WebhookEvent
from ..payloads import DOMAIN_EVENTS, builder_for

__all__ = [
    "handler_for",
    "new_event_id",
    "subscribe_all",
    "webhook_events_emit",
    "webhook_test_event_send",
]

logger = logging.getLogger(__name__)
# Deliveries per dispatch_deliveries message (keeps each broker message small).
DISPATCH_CHUNK = 500


def new_event_id() -> str:
    return f"evt_{uuid.uuid4().hex}"


def subscribed_endpoints(event_type: str) -> list[WebhookEndpoint]:
    return list(
        WebhookEndpoint.objects.filter(active=True, event_types__contains=[event_type]).order_by(
            "pk"
        )
    )


def webhook_events_emit(
    *,
    event_type: str,
    payloads: list[dict[str, Any]],
    endpoints: list[WebhookEndpoint],
) -> list[WebhookDelivery]:
    """One event per payload, one delivery per (event, endpoint), dispatched on commit."""
    if not payloads or not endpoints:
        return []
    now = timezone.now()
    with transaction.atomic():
        events = WebhookEvent.objects.bulk_create(
            [
                WebhookEvent(event_id=new_event_id(), type=event_type, payload=p, created_at=now)
                for p in payloads
            ]
        )
        deliveries = WebhookDelivery.objects.bulk_create(
            [
                WebhookDelivery(
                    event=event,
                    endpoint=endpoint,
                    status=DeliveryStatus.PENDING,
                    next_attempt_at=now,
                )
                for event in events
                for endpoint in endpoints
            ]
        )
        ids = [d.pk for d in deliveries]
        transaction.on_commit(lambda: _dispatch(ids))
    return deliveries


def _dispatch(delivery_ids: list[int]) -> None:
    from ..tasks import dispatch_deliveries, send_delivery

    # A handful are sent straight away; a month's worth of invoices goes to a worker that sends
    # the tasks, so the request that finalized the month is not kept waiting.
    if len(delivery_ids) <= 20:
        for delivery_id in delivery_ids:
            send_delivery.delay(delivery_id)
        return
    for start in range(0, len(delivery_ids), DISPATCH_CHUNK):
        dispatch_deliveries.delay(delivery_ids[start : start + DISPATCH_CHUNK])


def handler_for(webhook_type: str) -> Callable[..., None]:
    """The `core.events` handler that emits `webhook_type` (a named function per type, so the
    events registry lists it legibly and registering twice is a no-op)."""

    def emit(**data: Any) -> None:
        endpoints = subscribed_endpoints(webhook_type)
        if not endpoints:
            return
        builder = builder_for(webhook_type)
        if builder is None:
            # The owning app has not registered a builder (not installed yet): nothing to send,
            # and the publisher's change must not fail because of it.
            logger.warning(
                "No webhook payload builder for %s; %d endpoint(s) not notified.",
                webhook_type,
                len(endpoints),
                extra={"webhook_type": webhook_type},
            )
            return
        webhook_events_emit(event_type=webhook_type, payloads=builder(**data), endpoints=endpoints)

    name = "emit_" + webhook_type.replace(".", "_")
    emit.__name__ = emit.__qualname__ = name
    emit.__module__ = __name__
    return emit


_HANDLERS = {webhook_type: handler_for(webhook_type) for webhook_type in DOMAIN_EVENTS}


def subscribe_all() -> None:
    from core.events import subscribe

    for webhook_type, domain_type in DOMAIN_EVENTS.items():
        subscribe(domain_type, _HANDLERS[webhook_type])


def webhook_test_event_send(*, endpoint: WebhookEndpoint, actor: Actor) -> WebhookDelivery:
    """A `webhook.test` event to this one endpoint."""
    if not endpoint.active:
        raise WebhookError("The endpoint is disabled: enable it to send a test event.")
    with transaction.atomic():
        payload = {
            "endpoint": endpoint.pk,
            "message": "A test event sent from the console. No action is needed.",
        }
        (delivery,) = webhook_events_emit(
            event_type=TEST_EVENT_TYPE, payloads=[payload], endpoints=[endpoint]
        )
        audit_record(
            actor=actor,
            action="webhook_endpoint.test_sent",
            instance=endpoint,
            after={"event_id": delivery.event.event_id},
        )
    return delivery
