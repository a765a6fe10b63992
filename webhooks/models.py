"""Outbound webhooks (each vendor's schema): the endpoints integrators register, one row per event
we emitted, and one delivery per (event, endpoint) with its attempts.

Exactly-once bookkeeping lives here, not in the broker: a delivery is unique per (event,
endpoint), and an attempt is unique per (delivery, number) — an attempt is claimed (its row
written, the delivery's `next_attempt_at` pushed past the send's lease) under a row lock before
anything is sent, so two workers never send the same attempt.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q

from .enums import DeliveryStatus

__all__ = ["WebhookAttempt", "WebhookDelivery", "WebhookEndpoint", "WebhookEvent"]


class WebhookEndpoint(models.Model):
    url = models.URLField(max_length=2000)
    description = models.CharField(max_length=200, blank=True)
    # A subset of WebhookEventType values (checked by the services).
    event_types = ArrayField(models.CharField(max_length=64), default=list)
    # The HMAC key; kept as is because every delivery must be signed with it. Shown at creation,
    # to admins on request, and replaced by rotation.
    secret = models.CharField(max_length=100)
    active = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_by_label = models.CharField(max_length=254, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    secret_rotated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # "Which active endpoints want this type" runs on every domain event.
            models.Index(
                fields=["active"], name="webhooks_endpoint_active_idx", condition=Q(active=True)
            )
        ]

    def __str__(self) -> str:
        return self.description or self.url

    @property
    def secret_hint(self) -> str:
        return f"{self.secret[:10]}…{self.secret[-4:]}"


class WebhookEvent(models.Model):
    """Something that happened, once, whatever the number of endpoints told about it."""

    # The id integrators see (`Webhook-Id`, `id` in the body): the same on every retry and for
    # every endpoint, so a receiver can drop duplicates.
    event_id = models.CharField(max_length=40, unique=True)
    type = models.CharField(max_length=64)
    # The object the event is about, as the payload builder returned it (the body's `data`).
    payload = models.JSONField()
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.event_id

    def body(self) -> dict:
        """What is POSTed: the envelope around the payload."""
        return {
            "id": self.event_id,
            "type": self.type,
            "created_at": self.created_at.isoformat(),
            "data": self.payload,
        }


class WebhookDelivery(models.Model):
    event = models.ForeignKey(WebhookEvent, on_delete=models.CASCADE, related_name="deliveries")
    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries"
    )
    status = models.CharField(
        max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    # When the next attempt is due (pending/failed); while an attempt is in flight, the end of
    # its lease — so neither the sweep nor a second worker sends again until it has lapsed.
    # Null once succeeded or exhausted.
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    last_response_excerpt = models.TextField(blank=True)
    last_duration_ms = models.PositiveIntegerField(null=True, blank=True)
    succeeded_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["event", "endpoint"], name="webhooks_delivery_one_per_event_endpoint"
            ),
            models.CheckConstraint(
                condition=Q(status__in=DeliveryStatus.values), name="webhooks_delivery_status_known"
            ),
        ]
        indexes = [
            # The sweep: due deliveries still to be sent.
            models.Index(
                fields=["next_attempt_at"],
                name="webhooks_delivery_due_idx",
                condition=Q(status__in=[DeliveryStatus.PENDING, DeliveryStatus.FAILED]),
            ),
            models.Index(fields=["endpoint", "-created_at"], name="webhooks_delivery_log_idx"),
        ]

    def __str__(self) -> str:
        return f"event {self.event_id} → endpoint {self.endpoint_id}"


class WebhookAttempt(models.Model):
    """One POST (or one claimed POST whose worker died before recording the answer)."""

    delivery = models.ForeignKey(
        WebhookDelivery, on_delete=models.CASCADE, related_name="attempt_rows"
    )
    number = models.PositiveIntegerField()
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    succeeded = models.BooleanField(default=False)
    error = models.CharField(max_length=500, blank=True)
    response_excerpt = models.TextField(blank=True)

    class Meta:
        ordering = ["delivery_id", "number"]
        constraints = [
            models.UniqueConstraint(
                fields=["delivery", "number"], name="webhooks_attempt_one_per_number"
            )
        ]

    def __str__(self) -> str:
        return f"attempt {self.number} of delivery {self.delivery_id}"
