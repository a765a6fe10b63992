"""Signing what we send (pure functions; integrators verify the same way, docs/api.md).

`Webhook-Signature: v1=<hex HMAC-SHA256 of "{timestamp}.{body}" keyed with the endpoint secret>`,
where `timestamp` is the `Webhook-Timestamp` header (Unix seconds) and `body` the exact bytes
POSTed. Signing the timestamp with the body lets receivers refuse replays of old requests.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

SIGNATURE_VERSION = "v1"
SECRET_PREFIX = "whsec_"


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def signature(secret: str, timestamp: int, body: bytes) -> str:
    signed = str(timestamp).encode() + b"." + body
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"{SIGNATURE_VERSION}={digest}"


def headers(*, event_id: str, timestamp: int, body: bytes, secret: str) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "Webhook-Id": event_id,
        "Webhook-Timestamp": str(timestamp),
        "Webhook-Signature": signature(secret, timestamp, body),
    }
