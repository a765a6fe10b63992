"""Sending deliveries: claim an attempt, POST it, record the answer; retries and the sweep.

An attempt is **claimed** in its own short transaction: the delivery row is locked with
`SELECT … FOR UPDATE SKIP LOCKED` (a worker that finds it locked moves on), must be pending or
failed and due, and the claim writes the attempt row (unique per delivery and number) and pushes
`next_attempt_at` to the end of a lease (timeout + margin). Only then is the request sent, with no
transaction open. So a second worker — a duplicate task, the sweep, "retry now" — finds the
delivery either locked or not due, and never sends the same attempt twice. A worker that dies
mid-send leaves the attempt unfinished; when the lease lapses the sweep claims the next attempt.

The answer is recorded in a second transaction: 2xx → succeeded; otherwise failed with the next
attempt after `WEBHOOKS_RETRY_SCHEDULE[n-1]` seconds, or exhausted after the last.
"""

from __future__ import annotations

import datetime
import logging
from dataclasses import dataclass

import orjson
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from core.actors import Actor
from core.services.audit import audited_update

from ..enums import DeliveryStatus
from ..errors import WebhookError
from ..models import WebhookAttempt, WebhookDelivery, WebhookEvent
from ..sender import SendResult, post
from ..signing import headers
from ..url_safety import check_url

__all__ = [
    "Claim",
    "deliveries_due",
    "delivery_attempt",
    "delivery_claim",
    "delivery_record",
    "delivery_retry_now",
    "events_purge",
    "retry_delay",
]

logger = logging.getLogger(__name__)

S = DeliveryStatus
SENDABLE = (S.PENDING, S.FAILED)
# Beyond the request timeout, how long a claimed attempt may take to be recorded before another
# worker may claim the next one.
LEASE_MARGIN = datetime.timedelta(seconds=30)
# Retries due within this are scheduled as a Celery countdown too; later ones only by the sweep
# (Redis redelivers long-countdown messages after its visibility timeout).
COUNTDOWN_MAX_SECONDS = 900
# The sweep leaves alone what became due only recently: its own task is most likely queued (a
# month's deliveries can keep the workers busy for a while), and a duplicate would be a no-op
# claim anyway.
SWEEP_GRACE = datetime.timedelta(minutes=2)


@dataclass(frozen=True)
class Claim:
    delivery_id: int
    attempt_id: int
    number: int
    url: str
    secret: str
    event_id: str
    body: bytes


def _timeout() -> float:
    return float(settings.WEBHOOKS_TIMEOUT_SECONDS)


def retry_delay(attempt_number: int) -> int | None:
    """Seconds until the attempt after failed attempt `attempt_number`; None: none is left."""
    schedule = list(settings.WEBHOOKS_RETRY_SCHEDULE)
    if attempt_number <= len(schedule):
        return int(schedule[attempt_number - 1])
    return None


def delivery_claim(*, delivery_id: int, now: datetime.datetime | None = None) -> Claim | None:
    """Claim the next attempt of a due delivery; None when it is not due, not sendable, its
    endpoint is disabled, or another worker holds it."""
    now = now or timezone.now()
    with transaction.atomic():
        delivery = (
            WebhookDelivery.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("event", "endpoint")
            .filter(
                pk=delivery_id,
                status__in=SENDABLE,
                next_attempt_at__lte=now,
                endpoint__active=True,
            )
            .first()
        )
        if delivery is None:
            return None
        # An earlier attempt whose worker never recorded an answer (it died mid-send).
        WebhookAttempt.objects.filter(delivery=delivery, finished_at__isnull=True).update(
            finished_at=now, error="No answer was recorded (the worker stopped while sending)."
        )
        number = delivery.attempts + 1
        attempt = WebhookAttempt.objects.create(delivery=delivery, number=number, started_at=now)
        delivery.attempts = number
        delivery.last_attempt_at = now
        delivery.next_attempt_at = now + datetime.timedelta(seconds=_timeout()) + LEASE_MARGIN
        delivery.save(
            update_fields=["attempts", "last_attempt_at", "next_attempt_at", "updated_at"]
        )
    endpoint, event = delivery.endpoint, delivery.event
    return Claim(
        delivery_id=delivery.pk,
        attempt_id=attempt.pk,
        number=number,
        url=endpoint.url,
        secret=endpoint.secret,
        event_id=event.event_id,
        body=orjson.dumps(event.body()),
    )


def delivery_record(
    *, claim: Claim, result: SendResult, now: datetime.datetime | None = None
) -> WebhookDelivery:
    """Record the answer to a claimed attempt and decide what comes next."""
    now = now or timezone.now()
    with transaction.atomic():
        delivery = WebhookDelivery.objects.select_for_update().get(pk=claim.delivery_id)
        attempt = WebhookAttempt.objects.select_for_update().get(pk=claim.attempt_id)
        if attempt.finished_at is not None:
            return delivery  # recorded already (or written off when a later attempt was claimed)
        attempt.finished_at = now
        attempt.duration_ms = result.duration_ms
        attempt.status_code = result.status_code
        attempt.succeeded = result.ok
        attempt.error = result.error[:500]
        attempt.response_excerpt = result.response_excerpt
        attempt.save()
        if delivery.attempts != claim.number or delivery.status not in SENDABLE:
            return delivery  # a later attempt owns the delivery now
        delivery.last_status_code = result.status_code
        delivery.last_error = result.error[:500]
        delivery.last_response_excerpt = result.response_excerpt
        delivery.last_duration_ms = result.duration_ms
        delay = None
        if result.ok:
            delivery.status = S.SUCCEEDED
            delivery.succeeded_at = now
            delivery.next_attempt_at = None
        else:
            delay = retry_delay(claim.number)
            if delay is None:
                delivery.status = S.EXHAUSTED
                delivery.next_attempt_at = None
            else:
                delivery.status = S.FAILED
                delivery.next_attempt_at = now + datetime.timedelta(seconds=delay)
        delivery.save()
        if delay is not None and delay <= COUNTDOWN_MAX_SECONDS:
            transaction.on_commit(lambda: _send_later(delivery.pk, delay))
    return delivery


def _send_later(delivery_id: int, delay: int) -> None:
    from ..tasks import send_delivery

    send_delivery.apply_async(args=[delivery_id], countdown=delay)


def delivery_attempt(*, delivery_id: int) -> str:
    """Claim, send and record one attempt (what the Celery task does). Returns the delivery's
    status afterwards, or "skipped" when there was nothing to claim."""
    claim = delivery_claim(delivery_id=delivery_id)
    if claim is None:
        return "skipped"
    try:
        check_url(claim.url)  # again: the name may resolve elsewhere since it was saved
    except WebhookError as exc:
        result = SendResult(status_code=None, duration_ms=0, error=str(exc))
    else:
        timestamp = int(timezone.now().timestamp())
        result = post(
            claim.url,
            claim.body,
            headers(
                event_id=claim.event_id, timestamp=timestamp, body=claim.body, secret=claim.secret
            ),
            timeout=_timeout(),
        )
    delivery = delivery_record(claim=claim, result=result)
    logger.info(
        "Webhook attempt %s of %s: %s",
        claim.number,
        claim.event_id,
        result.status_code or result.error,
        extra={"delivery_id": delivery_id, "status": delivery.status},
    )
    return delivery.status


def deliveries_due(*, now: datetime.datetime | None = None, limit: int = 1000) -> list[int]:
    """Ids of deliveries whose attempt is due (oldest first) — the sweep sends them."""
    now = now or timezone.now()
    return list(
        WebhookDelivery.objects.filter(
            status__in=SENDABLE,
            next_attempt_at__lte=now - SWEEP_GRACE,
            endpoint__active=True,
        )
        .order_by("next_attempt_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )


def delivery_retry_now(*, delivery: WebhookDelivery, actor: Actor) -> WebhookDelivery:
    """Send the next attempt now (a failed delivery early; an exhausted one once more)."""
    now = timezone.now()
    with transaction.atomic():
        locked = (
            WebhookDelivery.objects.select_for_update(of=("self",))
            .select_related("endpoint")
            .get(pk=delivery.pk)
        )
        if locked.status == S.SUCCEEDED:
            raise WebhookError("This delivery has succeeded; there is nothing to retry.")
        if not locked.endpoint.active:
            raise WebhookError("The endpoint is disabled: enable it to retry its deliveries.")
        in_flight = WebhookAttempt.objects.filter(delivery=locked, finished_at__isnull=True)
        if in_flight.exists() and locked.next_attempt_at and locked.next_attempt_at > now:
            raise WebhookError("An attempt is being sent right now; wait for its answer.")
        audited_update(
            locked,
            actor=actor,
            action="webhook_delivery.retried",
            changes={
                "status": S.FAILED if locked.status == S.EXHAUSTED else locked.status,
                "next_attempt_at": now,
            },
        )
        transaction.on_commit(lambda: _send_later(locked.pk, 0))
    return locked


def events_purge(*, now: datetime.datetime | None = None) -> int:
    """Drop events (with their deliveries and attempts) older than `WEBHOOKS_RETENTION_DAYS`
    whose deliveries are all finished (succeeded or exhausted). Returns the events dropped."""
    now = now or timezone.now()
    cutoff = now - datetime.timedelta(days=int(settings.WEBHOOKS_RETENTION_DAYS))
    old = WebhookEvent.objects.filter(created_at__lt=cutoff).exclude(
        deliveries__status__in=SENDABLE
    )
    with transaction.atomic():
        ids = list(old.values_list("pk", flat=True)[:10000])
        WebhookEvent.objects.filter(pk__in=ids).delete()
    return len(ids)
