"""`Idempotency-Key` on POST under /api/: the same key with the same body replays the first
response; with a different body, or while the first is still running, it answers 409.

Keys are scoped per credential (the SHA-256 of the Authorization header) and per vendor (the
table lives in each vendor's schema). Only responses of requests that ran are stored: 5xx, 401,
403 and 429 are not, so the client can fix the cause and retry with the same key.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta

import orjson
from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.http import HttpResponse
from django.utils import timezone
from django.utils.module_loading import import_string

from core.models import IdempotencyRecord

from .problems import is_api_path, problem_response

HEADER = "HTTP_IDEMPOTENCY_KEY"
MAX_KEY_LENGTH = 255
RETENTION = timedelta(hours=24)
# A record left in progress this long belongs to a request that died; a retry may take it over.
ABANDONED_AFTER = timedelta(minutes=5)
_NOT_STORED = {401, 403, 429}


def _sha256(*parts: bytes) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


class IdempotencyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        key = request.META.get(HEADER)
        if (
            key is None
            or request.method != "POST"
            or not is_api_path(request.path)
            or connection.schema_name == "public"
        ):
            return self.get_response(request)
        if not key or len(key) > MAX_KEY_LENGTH:
            return problem_response(
                400,
                "Bad request",
                f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} characters.",
                slug="idempotency-key-invalid",
            )
        authorization = request.META.get("HTTP_AUTHORIZATION", "")
        if not _credential_is_active(authorization):
            # Never replay to a missing, wrong or revoked credential: the view answers 401.
            return self.get_response(request)
        credential = _sha256(authorization.encode())
        fingerprint = _sha256(request.method.encode(), request.path.encode(), request.body)

        record, replay = self._claim(credential, key, request, fingerprint)
        if replay is not None:
            return replay
        try:
            response = self.get_response(request)
        except BaseException:
            IdempotencyRecord.objects.filter(pk=record.pk).delete()
            raise
        if response.status_code >= 500 or response.status_code in _NOT_STORED or response.streaming:
            IdempotencyRecord.objects.filter(pk=record.pk).delete()
            return response
        IdempotencyRecord.objects.filter(pk=record.pk).update(
            state=IdempotencyRecord.State.DONE,
            response_status=response.status_code,
            response_body=_stored_body(response),
            response_content_type=response.get("Content-Type", ""),
        )
        return response

    def _claim(self, credential, key, request, fingerprint):
        now = timezone.now()
        try:
            with transaction.atomic():
                record = IdempotencyRecord.objects.create(
                    credential_hash=credential,
                    key=key,
                    method=request.method,
                    path=request.path[:500],
                    request_hash=fingerprint,
                )
            return record, None
        except IntegrityError:
            pass
        with transaction.atomic():
            existing = IdempotencyRecord.objects.select_for_update().get(
                credential_hash=credential, key=key
            )
            if existing.request_hash != fingerprint:
                return None, problem_response(
                    409,
                    "Conflict",
                    "This Idempotency-Key was already used with a different request.",
                    slug="idempotency-key-reused",
                )
            if existing.state == IdempotencyRecord.State.DONE:
                replay = HttpResponse(
                    bytes(existing.response_body or b""),
                    status=existing.response_status,
                    content_type=existing.response_content_type or "application/json",
                )
                replay["Idempotent-Replayed"] = "true"
                return None, replay
            if now - existing.created_at < ABANDONED_AFTER:
                return None, problem_response(
                    409,
                    "Conflict",
                    "A request with this Idempotency-Key is still being processed; retry shortly.",
                    slug="idempotency-key-in-progress",
                )
            existing.created_at = now
            existing.save(update_fields=["created_at"])
            return existing, None


def _credential_is_active(authorization: str) -> bool:
    # core sits below accounts, so the check is named in settings rather than imported.
    return import_string(settings.IDEMPOTENCY_CREDENTIAL_CHECK)(authorization)


def _stored_body(response) -> bytes:
    """The body to replay. Fields a view marks as secret (e.g. a new API key, shown once) are
    stored as null, so the secret never lands in this table."""
    redact = getattr(response, "idempotency_redact", ())
    if not redact:
        return bytes(response.content)
    data = orjson.loads(response.content)
    for field in redact:
        if field in data:
            data[field] = None
    return orjson.dumps(data)


def purge_expired_records() -> int:
    deleted, _ = IdempotencyRecord.objects.filter(
        created_at__lt=timezone.now() - RETENTION
    ).delete()
    return deleted
