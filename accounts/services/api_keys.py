"""Creating and revoking API keys. The key is returned once; only its SHA-256 is stored."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from accounts.enums import ApiKeyScope
from accounts.errors import AccountError
from accounts.models import ApiKey, User
from core.actors import Actor
from core.services.audit import audit_record, audited_update, snapshot

KEY_PREFIX = "msp"


@dataclass(frozen=True)
class IssuedApiKey:
    api_key: ApiKey
    secret: str  # the full key; shown once, never stored


def hash_key(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def api_key_create(
    *,
    name: str,
    actor: Actor,
    created_by: User | None = None,
    partner_id: int | None = None,
) -> IssuedApiKey:
    name = name.strip()
    if not name:
        raise AccountError("Give the key a name, e.g. the integration that will use it.")
    if len(name) > 100:
        raise AccountError("Key names are at most 100 characters.")
    prefix = secrets.token_hex(4)
    secret = f"{KEY_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"
    with transaction.atomic():
        api_key = ApiKey.objects.create(
            name=name,
            prefix=prefix,
            key_hash=hash_key(secret),
            scope=ApiKeyScope.PARTNER if partner_id else ApiKeyScope.VENDOR,
            partner_id=partner_id,
            created_by=created_by,
        )
        audit_record(
            actor=actor,
            action="api_key.created",
            instance=api_key,
            after=snapshot(api_key, ["name", "prefix", "scope", "partner_id"]),
        )
    return IssuedApiKey(api_key=api_key, secret=secret)


def api_key_revoke(*, api_key: ApiKey, actor: Actor) -> ApiKey:
    with transaction.atomic():
        locked = ApiKey.objects.select_for_update().get(pk=api_key.pk)
        if locked.revoked_at is not None:
            raise AccountError(f"The key “{locked.name}” is already revoked.")
        audited_update(
            locked, actor=actor, action="api_key.revoked", changes={"revoked_at": timezone.now()}
        )
    return locked
