"""Writing rows that other connections must see, from tests that run inside a rolled-back
transaction (live-server browser tests, real concurrency tests)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

from django.db import connections

T = TypeVar("T")


def committed(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run `fn` on a fresh thread, i.e. its own connection in autocommit: what it writes is
    committed at once and visible to other connections, unlike the test's own transaction."""
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["value"] = fn(*args, **kwargs)
        except BaseException as exc:  # re-raised in the test's thread
            outcome["error"] = exc
        finally:
            connections.close_all()

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")
