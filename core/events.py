"""Domain events: how a lower app tells higher apps that something happened, explicitly.

A service publishes an event *inside its own transaction* (`publish("invoice.paid", invoice_id=…)`);
every handler registered for that type runs right there, synchronously, in the same transaction,
so what a handler writes commits or rolls back with the change that caused it. Handlers that need
slow or outside work (Stripe, HTTP) write a row and dispatch a Celery task with
`transaction.on_commit`.

Handlers are registered in `AppConfig.ready()` of the app that reacts (the registry is the one
place that lists who listens to what; `docs/architecture.md` has the table). Publishing a type
nobody listens to is fine; publishing an unknown type is a programming error.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["EVENT_TYPES", "Handler", "handlers_for", "publish", "subscribe"]

Handler = Callable[..., None]

# type → what its keyword arguments carry (ids, never model instances: a handler re-reads and
# locks what it needs).
EVENT_TYPES: dict[str, str] = {
    "partner.approved": "partner_id",
    "billing_period.finalized": "period_id (its invoices were numbered in the same transaction)",
    "invoice.paid": "invoice_id",
    "invoice.payment_failed": "invoice_id",
    "invoice.uncollectible": "invoice_id",
    "invoice.refunded": "invoice_id",
    "credit_note.issued": "credit_note_id",
    "statement.approved": "statement_id",
    "payout.paid": "payout_id",
}

_handlers: dict[str, list[tuple[str, Handler]]] = {}


def _name(handler: Handler) -> str:
    return f"{getattr(handler, '__module__', '?')}.{getattr(handler, '__qualname__', handler)!s}"


def subscribe(event_type: str, handler: Handler) -> None:
    """Register `handler(**data)` for `event_type`; registering the same function twice is a no-op
    (Django may call `ready()` more than once in tests)."""
    if event_type not in EVENT_TYPES:
        raise ValueError(f"Unknown event type {event_type!r}.")
    name = _name(handler)
    registered = _handlers.setdefault(event_type, [])
    if any(existing == name for existing, _ in registered):
        return
    registered.append((name, handler))


def handlers_for(event_type: str) -> list[str]:
    """Names of the handlers of `event_type`, in the order they run (for docs and tests)."""
    return [name for name, _ in _handlers.get(event_type, [])]


def publish(event_type: str, **data: Any) -> None:
    """Run every handler of `event_type` now, in the caller's transaction; an exception in a
    handler propagates (and rolls the caller's transaction back)."""
    if event_type not in EVENT_TYPES:
        raise ValueError(f"Unknown event type {event_type!r}.")
    for _, handler in list(_handlers.get(event_type, [])):
        handler(**data)
