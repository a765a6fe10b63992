"""Celery tasks of outbound webhooks; each runs in its vendor's schema (tenant-schemas-celery).
Sending twice is harmless by construction (an attempt is claimed under a row lock before it is
sent, see webhooks.services.deliveries), so the tasks are acknowledged late."""

from celery import shared_task

from .services.deliveries import deliveries_due, delivery_attempt, events_purge


@shared_task(name="webhooks.tasks.send_delivery", acks_late=True)
def send_delivery(delivery_id: int) -> str:
    return delivery_attempt(delivery_id=delivery_id)


@shared_task(name="webhooks.tasks.dispatch_deliveries", acks_late=True)
def dispatch_deliveries(delivery_ids: list[int]) -> int:
    """Send one task per delivery (a month's invoices: dispatched from a worker, not the web)."""
    for delivery_id in delivery_ids:
        send_delivery.delay(delivery_id)
    return len(delivery_ids)


@shared_task(name="webhooks.tasks.send_due_deliveries", acks_late=True)
def send_due_deliveries() -> int:
    """Every minute (beat): due retries, and anything whose task was lost or whose worker died."""
    return dispatch_deliveries(deliveries_due())


@shared_task(name="webhooks.tasks.purge_old_events", acks_late=True)
def purge_old_events() -> int:
    """Daily (beat): finished events older than WEBHOOKS_RETENTION_DAYS."""
    return events_purge()
