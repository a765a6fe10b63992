"""A fixed-window counter in the cache, for forms that must not be abused (password reset
emails, public applications). Keys go through django-tenants' make_key, so vendors never share
a counter."""

from __future__ import annotations

import hashlib

from django.core.cache import cache


def allow(scope: str, ident: str, *, limit: int, window_seconds: int) -> bool:
    """Count one attempt for (scope, ident); False once `limit` attempts were made in the window
    that started with the first of them."""
    digest = hashlib.sha256(ident.encode()).hexdigest()[:40]
    key = f"ratelimit:{scope}:{digest}"
    cache.add(key, 0, timeout=window_seconds)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add() and incr()
        cache.set(key, 1, timeout=window_seconds)
        count = 1
    return count <= limit
