"""Login throttling per (email, client address), kept in the cache.

The cache's key function is django_tenants' `make_key`, so counters of vendor A and vendor B never
mix even for the same email. After LOGIN_FAILURE_LIMIT failures within
LOGIN_FAILURE_WINDOW_SECONDS (counted from the first failure) the pair is locked for one window;
every attempt while locked is refused without checking the password.
"""

from __future__ import annotations

import datetime
import hashlib
import math

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone


def _key(kind: str, email: str, ip: str | None) -> str:
    # Hashed so that odd characters in an email never reach the cache backend, and no address
    # is readable in Redis.
    digest = hashlib.sha256(f"{email.strip().lower()}|{ip or '-'}".encode()).hexdigest()[:40]
    return f"accounts:login:{kind}:{digest}"


def locked_until(email: str, ip: str | None) -> datetime.datetime | None:
    """When the lock on this (email, address) ends, or None when sign-in is allowed."""
    stamp = cache.get(_key("lock", email, ip))
    if stamp is None:
        return None
    until = datetime.datetime.fromtimestamp(float(stamp), tz=datetime.UTC)
    return until if until > timezone.now() else None


def record_failure(email: str, ip: str | None) -> datetime.datetime | None:
    """Count one failed attempt; returns the end of the lock when this failure caused one."""
    window = settings.LOGIN_FAILURE_WINDOW_SECONDS
    counter = _key("failures", email, ip)
    cache.add(counter, 0, timeout=window)  # the window starts at the first failure
    try:
        failures = cache.incr(counter)
    except ValueError:  # the counter expired between add() and incr()
        cache.set(counter, 1, timeout=window)
        failures = 1
    if failures < settings.LOGIN_FAILURE_LIMIT:
        return None
    until = timezone.now() + datetime.timedelta(seconds=window)
    cache.set(_key("lock", email, ip), until.timestamp(), timeout=window)
    cache.delete(counter)
    return until


def clear(email: str, ip: str | None) -> None:
    """A successful sign-in forgets earlier failures."""
    cache.delete_many([_key("failures", email, ip), _key("lock", email, ip)])


def locked_message(until: datetime.datetime) -> str:
    seconds = max(1, math.ceil((until - timezone.now()).total_seconds()))
    if seconds < 60:
        wait = f"{seconds} second{'s' if seconds != 1 else ''}"
    else:
        minutes = math.ceil(seconds / 60)
        wait = f"{minutes} minute{'s' if minutes != 1 else ''}"
    return (
        "Too many failed sign-in attempts. For your security, sign-in is paused: "
        f"try again in {wait} (after {until:%H:%M} UTC), or reset your password."
    )
