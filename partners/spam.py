"""Spam protection for the public application form, without third-party services.

Three independent checks:
- a honeypot field that people never see and bots fill in;
- a signed timestamp issued with the form: a submission sooner than MIN_FILL_SECONDS after the
  form was served (a script) or later than MAX_AGE_SECONDS (a replayed token) is refused; the
  signature is bound to the vendor's schema, so a token served by one vendor is no good at another;
- a per-address rate limit in the cache (whose keys django-tenants prefixes with the schema, so
  each vendor has its own buckets).
"""

from __future__ import annotations

import time

from django.core import signing
from django.db import connection

from core.ratelimit import allow

MIN_FILL_SECONDS = 3
MAX_AGE_SECONDS = 24 * 60 * 60
# Submissions (accepted or not) per client address per window.
RATE_LIMIT = 10
RATE_WINDOW_SECONDS = 60 * 60


class SpamSuspected(Exception):
    """The submission looks automated; the message is fit to show to a person."""


def _signer() -> signing.Signer:
    return signing.Signer(salt=f"partners.apply:{connection.schema_name}")


def form_token(issued_at: float | None = None) -> str:
    """A token to put in the form: the time it was served, signed."""
    issued = time.time() if issued_at is None else issued_at
    return _signer().sign(f"{issued:.3f}")


def check_form_token(token: str, now: float | None = None) -> None:
    """Raise SpamSuspected unless the token is ours and was served 3 s to a day ago."""
    now = time.time() if now is None else now
    try:
        issued = float(_signer().unsign(token or ""))
    except (signing.BadSignature, ValueError):
        raise SpamSuspected(
            "This form could not be verified. Reload the page and submit it again."
        ) from None
    age = now - issued
    if age < MIN_FILL_SECONDS:
        raise SpamSuspected(
            "That was faster than a person can fill in this form. Check your answers and "
            "submit again."
        )
    if age > MAX_AGE_SECONDS:
        raise SpamSuspected(
            "This form was opened more than a day ago. Check your answers and submit again."
        )


def rate_limit_hit(ip: str | None) -> bool:
    """Count one submission from `ip`; True when it is over the limit for the window."""
    return not allow(
        "partners-apply", ip or "-", limit=RATE_LIMIT, window_seconds=RATE_WINDOW_SECONDS
    )
