"""Reads of the webhooks app."""

from __future__ import annotations

from django.db.models import Count, Q, QuerySet

from .enums import DeliveryStatus
from .models import WebhookAttempt, WebhookDelivery, WebhookEndpoint


def endpoints_list() -> QuerySet[WebhookEndpoint]:
    """Endpoints with their delivery counts by outcome (one query)."""
    return WebhookEndpoint.objects.annotate(
        deliveries_failing=Count(
            "deliveries",
            filter=Q(deliveries__status__in=[DeliveryStatus.FAILED, DeliveryStatus.EXHAUSTED]),
        ),
        deliveries_succeeded=Count(
            "deliveries", filter=Q(deliveries__status=DeliveryStatus.SUCCEEDED)
        ),
    ).order_by("-created_at", "-id")


def endpoint_deliveries(
    endpoint: WebhookEndpoint, status: str | None = None
) -> QuerySet[WebhookDelivery]:
    deliveries = WebhookDelivery.objects.filter(endpoint=endpoint).select_related("event")
    if status:
        deliveries = deliveries.filter(status=status)
    return deliveries.order_by("-created_at", "-id")


def delivery_attempts(delivery: WebhookDelivery) -> list[WebhookAttempt]:
    return list(WebhookAttempt.objects.filter(delivery=delivery).order_by("-number"))
