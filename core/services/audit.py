"""Writing the audit log. Every service that changes an important row calls `audit_record`
inside its transaction, so the row and its audit entry commit or roll back together."""

from __future__ import annotations

import datetime
import decimal
import uuid
from typing import Any

from django.db import models

from core.actors import Actor
from core.models import AuditEntry
from core.request_context import current_request_id


def snapshot(instance: models.Model, fields: list[str] | None = None) -> dict[str, Any]:
    """A JSON-safe dict of the instance's concrete fields (or of `fields`). Generated columns are
    left out: the database derives them from the others."""
    names = fields or [f.attname for f in instance._meta.concrete_fields if not f.generated]
    return {name: _json_safe(getattr(instance, name)) for name in names}


def _json_safe(value: Any) -> Any:
    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, (decimal.Decimal, uuid.UUID)):
        return str(value)
    if isinstance(value, bytes | memoryview):
        return None
    return value


def audit_record(
    *,
    actor: Actor,
    action: str,
    instance: models.Model,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditEntry:
    if before is not None and after is not None:
        changed = {k for k in after if before.get(k) != after.get(k)}
        before = {k: v for k, v in before.items() if k in changed}
        after = {k: v for k, v in after.items() if k in changed}
    return AuditEntry.objects.create(
        actor_kind=actor.kind,
        actor_id=actor.id,
        actor_label=actor.label[:254],
        ip=actor.ip,
        action=action,
        object_type=instance._meta.label_lower,
        object_id=str(instance.pk),
        object_repr=str(instance)[:254],
        before=before,
        after=after,
        request_id=current_request_id() or "",
    )


def audited_update(
    instance: models.Model,
    *,
    actor: Actor,
    action: str,
    changes: dict[str, Any],
    audit_fields: list[str] | None = None,
) -> AuditEntry:
    """Set `changes` on `instance`, save just those columns and record the change.

    Call it inside the service's transaction, on a row it has locked. The audit row shows
    `audit_fields` (default: the changed ones) before and after.
    """
    fields = audit_fields or list(changes)
    before = snapshot(instance, fields)
    for name, value in changes.items():
        setattr(instance, name, value)
    # auto_now fields (e.g. updated_at) are only refreshed when they are among update_fields.
    touched = [f.name for f in instance._meta.concrete_fields if getattr(f, "auto_now", False)]
    instance.save(update_fields=[*changes, *(name for name in touched if name not in changes)])
    return audit_record(
        actor=actor,
        action=action,
        instance=instance,
        before=before,
        after=snapshot(instance, fields),
    )
