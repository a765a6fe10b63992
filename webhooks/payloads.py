"""Who builds the `data` of each webhook type: the app that owns the object registers a builder
from its `AppConfig.ready()`, so this app never imports billing, partners or incentives.

    from webhooks.payloads import register_payload_builder
    register_payload_builder("invoice.paid", invoice_paid_payloads)

A builder is called with the keyword arguments of the domain event (`core.events`) that the
webhook type follows — ids only — inside the publisher's transaction, and returns a list of
JSON-safe dicts: one webhook event per dict, which becomes that event's `data`. Each dict should
carry the object's `id`; amounts as strings, timestamps ISO 8601.

| webhook type | domain event | builder called as | returns |
|---|---|---|---|
| `partner.approved` | `partner.approved` | `fn(partner_id=…)` | `[partner]` |
| `invoice.finalized` | `billing_period.finalized` | `fn(period_id=…)` | the period's invoices |
| `invoice.paid` | `invoice.paid` | `fn(invoice_id=…)` | `[invoice]` |
| `statement.approved` | `statement.approved` | `fn(statement_id=…)` | `[statement]` |
| `payout.paid` | `payout.paid` | `fn(payout_id=…)` | `[payout]` |

Builders run only when at least one active endpoint subscribes to the type; one that returns
many objects (a finalized month) should build them in a few queries, not one per object.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .enums import WebhookEventType

__all__ = [
    "DOMAIN_EVENTS",
    "PayloadBuilder",
    "builder_for",
    "register_payload_builder",
    "unregister_payload_builder",
]

PayloadBuilder = Callable[..., list[dict[str, Any]]]

# webhook type → the core.events type it follows
DOMAIN_EVENTS: dict[str, str] = {
    WebhookEventType.PARTNER_APPROVED: "partner.approved",
    WebhookEventType.INVOICE_FINALIZED: "billing_period.finalized",
    WebhookEventType.INVOICE_PAID: "invoice.paid",
    WebhookEventType.STATEMENT_APPROVED: "statement.approved",
    WebhookEventType.PAYOUT_PAID: "payout.paid",
}

_builders: dict[str, PayloadBuilder] = {}


def register_payload_builder(event_type: str, builder: PayloadBuilder) -> None:
    """Make `builder` the source of `event_type`'s payloads (registering again replaces it,
    since Django may call `ready()` more than once)."""
    if event_type not in DOMAIN_EVENTS:
        raise ValueError(f"Unknown webhook event type {event_type!r}.")
    _builders[event_type] = builder


def unregister_payload_builder(event_type: str) -> None:
    """For tests that register a builder of their own."""
    _builders.pop(event_type, None)


def builder_for(event_type: str) -> PayloadBuilder | None:
    return _builders.get(event_type)
