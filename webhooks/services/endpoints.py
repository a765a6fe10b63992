"""Registering, changing, disabling and deleting webhook endpoints; rotating their secrets."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction
from django.utils import timezone

from core.actors import Actor
from core.services.audit import audit_record, audited_update, snapshot

from ..enums import WebhookEventType
from ..errors import WebhookError
from ..models import WebhookEndpoint
from ..signing import new_secret
from ..url_safety import check_url

__all__ = [
    "webhook_endpoint_create",
    "webhook_endpoint_delete",
    "webhook_endpoint_rotate_secret",
    "webhook_endpoint_set_active",
    "webhook_endpoint_update",
]

# Audit rows never show the secret.
_AUDITED = ["url", "description", "event_types", "active"]
MAX_URL_LENGTH = 2000


def clean_url(url: str) -> str:
    url = (url or "").strip()
    if not url:
        raise WebhookError("Give the endpoint's URL.", field="url")
    if len(url) > MAX_URL_LENGTH:
        raise WebhookError(f"Keep the URL under {MAX_URL_LENGTH:,} characters.", field="url")
    check_url(url)
    return url


def clean_event_types(event_types: Iterable[str]) -> list[str]:
    chosen = list(dict.fromkeys(event_types or []))
    unknown = [t for t in chosen if t not in WebhookEventType.values]
    if unknown:
        raise WebhookError(
            f"Unknown event type {unknown[0]!r}; choose from "
            + ", ".join(WebhookEventType.values)
            + ".",
            field="event_types",
        )
    if not chosen:
        raise WebhookError("Choose at least one event type.", field="event_types")
    # Stored in the declared order, so the same choice always reads the same.
    return [t for t in WebhookEventType.values if t in chosen]


def clean_description(description: str) -> str:
    description = (description or "").strip()
    if len(description) > 200:
        raise WebhookError("Keep the description under 200 characters.", field="description")
    return description


def webhook_endpoint_create(
    *,
    url: str,
    event_types: Iterable[str],
    actor: Actor,
    description: str = "",
    created_by=None,
) -> WebhookEndpoint:
    """A new, active endpoint with a fresh secret (the caller shows `endpoint.secret` once)."""
    endpoint = WebhookEndpoint(
        url=clean_url(url),
        description=clean_description(description),
        event_types=clean_event_types(event_types),
        secret=new_secret(),
        created_by=created_by,
        created_by_label=actor.label[:254],
    )
    with transaction.atomic():
        endpoint.save()
        audit_record(
            actor=actor,
            action="webhook_endpoint.created",
            instance=endpoint,
            after=snapshot(endpoint, _AUDITED),
        )
    return endpoint


def webhook_endpoint_update(
    *,
    endpoint: WebhookEndpoint,
    actor: Actor,
    url: str | None = None,
    description: str | None = None,
    event_types: Iterable[str] | None = None,
    active: bool | None = None,
) -> WebhookEndpoint:
    """Change what is given (None: unchanged). Deliveries already made keep going where they
    were addressed; new events follow the new settings."""
    changes: dict = {}
    if url is not None:
        changes["url"] = clean_url(url)
    if description is not None:
        changes["description"] = clean_description(description)
    if event_types is not None:
        changes["event_types"] = clean_event_types(event_types)
    if active is not None:
        changes["active"] = bool(active)
    with transaction.atomic():
        locked = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
        changes = {k: v for k, v in changes.items() if getattr(locked, k) != v}
        if changes:
            audited_update(
                locked,
                actor=actor,
                action="webhook_endpoint.updated",
                changes=changes,
                audit_fields=_AUDITED,
            )
    return locked


def webhook_endpoint_set_active(
    *, endpoint: WebhookEndpoint, active: bool, actor: Actor
) -> WebhookEndpoint:
    """Disable (no new deliveries; pending ones are not sent while disabled) or enable again."""
    with transaction.atomic():
        locked = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
        if locked.active != active:
            audited_update(
                locked,
                actor=actor,
                action="webhook_endpoint.enabled" if active else "webhook_endpoint.disabled",
                changes={"active": active},
            )
    return locked


def webhook_endpoint_rotate_secret(*, endpoint: WebhookEndpoint, actor: Actor) -> WebhookEndpoint:
    """A new secret, in force for every attempt from now on (the old one stops at once)."""
    with transaction.atomic():
        locked = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
        before = {"secret_rotated_at": snapshot(locked, ["secret_rotated_at"])["secret_rotated_at"]}
        locked.secret = new_secret()
        locked.secret_rotated_at = timezone.now()
        locked.save(update_fields=["secret", "secret_rotated_at", "updated_at"])
        audit_record(
            actor=actor,
            action="webhook_endpoint.secret_rotated",
            instance=locked,
            before=before,
            after=snapshot(locked, ["secret_rotated_at"]),
        )
    return locked


def webhook_endpoint_delete(*, endpoint: WebhookEndpoint, actor: Actor) -> None:
    """Delete the endpoint and its delivery log (the events stay for other endpoints)."""
    with transaction.atomic():
        locked = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
        audit_record(
            actor=actor,
            action="webhook_endpoint.deleted",
            instance=locked,
            before=snapshot(locked, _AUDITED),
        )
        locked.delete()
