"""The one module that talks to Stripe (through its official SDK).

Settings (from the environment, see docs/operations.md): STRIPE_SECRET_KEY (no key: Stripe is
off and finance records payments by hand), STRIPE_API_BASE (another API host, e.g. localstripe in
tests), STRIPE_PUBLISHABLE_KEY and STRIPE_JS_URL for the browser.

Amounts go to Stripe in integer minor units from core.money.to_minor_units, currencies in lower
case. Every object we create carries our ids in `metadata` (tenant schema, invoice, attempt or
refund), so an interrupted job finds what it created by listing, whether or not Stripe still
honours the idempotency key we send as well (its window is 24 hours; localstripe ignores them).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import stripe
from django.conf import settings
from django.db import connection

from core.money import to_minor_units

from .errors import StripeNotConfigured

__all__ = [
    "TRANSIENT_ERRORS",
    "RefusedError",
    "StripeError",
    "configured",
    "customer_create",
    "minor",
    "payment_intent_create",
    "payment_intents_of_customer",
    "payment_method_retrieve",
    "refund_create",
    "refunds_of_payment_intent",
    "setup_intent_create",
    "setup_intent_retrieve",
    "tenant_schema",
]

StripeError = stripe.StripeError
CardError = stripe.CardError
# Stripe refused the request itself (bad parameters, a detached method, our key): nothing was
# charged, and sending it again would be refused again.
RefusedError = (stripe.InvalidRequestError, stripe.PermissionError, stripe.AuthenticationError)
# Stripe could not be reached or answered with a server error: try the same call again later.
TRANSIENT_ERRORS = (stripe.APIConnectionError, stripe.RateLimitError, stripe.APIError)


def configured() -> bool:
    """Stripe is on when a secret key is set (the embedded default has none)."""
    return bool(settings.STRIPE_SECRET_KEY)


def _client() -> stripe.StripeClient:
    if not configured():
        raise StripeNotConfigured("Stripe is not configured: payments are recorded by hand.")
    base = settings.STRIPE_API_BASE
    return stripe.StripeClient(
        settings.STRIPE_SECRET_KEY,
        base_addresses={"api": base} if base else None,
        # Retries on network errors repeat the same idempotency key; our reconciliation by
        # metadata covers a server that ignores it.
        max_network_retries=1,
    )


def tenant_schema() -> str:
    return connection.schema_name


def minor(amount: Decimal, currency: str) -> int:
    return to_minor_units(amount, currency)


def customer_create(*, name: str, email: str, partner_id: int) -> str:
    params: dict[str, Any] = {
        "name": name,
        "metadata": {"partner_id": str(partner_id), "tenant": tenant_schema()},
    }
    if email:
        params["email"] = email
    customer = _client().v1.customers.create(
        params=params,
        options={"idempotency_key": f"{tenant_schema()}-customer-{partner_id}"},
    )
    return customer.id


def _plain(obj: Any) -> dict[str, Any]:
    """Stripe's objects as plain dicts (the SDK's StripeObject is not a dict)."""
    return obj.to_dict()


def setup_intent_create(*, customer_id: str, kinds: list[str]) -> dict[str, Any]:
    return _plain(
        _client().v1.setup_intents.create(
            params={
                "customer": customer_id,
                "usage": "off_session",
                "payment_method_types": kinds,
                "metadata": {"tenant": tenant_schema()},
            }
        )
    )


def setup_intent_retrieve(setup_intent_id: str) -> dict[str, Any]:
    return _plain(_client().v1.setup_intents.retrieve(setup_intent_id))


def payment_method_retrieve(payment_method_id: str) -> dict[str, Any]:
    return _plain(_client().v1.payment_methods.retrieve(payment_method_id))


def payment_intent_create(*, params: dict[str, Any], idempotency_key: str) -> dict[str, Any]:
    return _plain(
        _client().v1.payment_intents.create(
            params=params, options={"idempotency_key": idempotency_key}
        )
    )


def _auto_pages(page: Any) -> Iterator[dict[str, Any]]:
    for item in page.auto_paging_iter():
        yield _plain(item)


def payment_intents_of_customer(customer_id: str) -> Iterator[Any]:
    """The customer's PaymentIntents, newest first."""
    client = _client()
    try:
        yield from _auto_pages(
            client.v1.payment_intents.list(params={"customer": customer_id, "limit": 100})
        )
    except stripe.InvalidRequestError as exc:
        # localstripe cannot filter PaymentIntents by customer ("Unexpected customer"): list
        # them all and filter here. Stripe itself never takes this branch.
        if "customer" not in str(exc):
            raise
        for intent in _auto_pages(client.v1.payment_intents.list(params={"limit": 100})):
            if intent.get("customer") == customer_id:
                yield intent


def refund_create(*, params: dict[str, Any], idempotency_key: str) -> dict[str, Any]:
    return _plain(
        _client().v1.refunds.create(params=params, options={"idempotency_key": idempotency_key})
    )


def refunds_of_payment_intent(payment_intent_id: str) -> Iterator[Any]:
    yield from _auto_pages(
        _client().v1.refunds.list(params={"payment_intent": payment_intent_id, "limit": 100})
    )


def construct_event(payload: bytes, signature: str) -> dict[str, Any]:
    """The verified event as a dict, or stripe.SignatureVerificationError / ValueError."""
    try:
        parsed = json.loads(payload)
    except UnicodeDecodeError as exc:
        raise ValueError("The payload is not UTF-8.") from exc
    # The SDK assumes an object (a signed `[1]` or `null` would crash it).
    if not isinstance(parsed, dict):
        raise ValueError("The payload is not a JSON object.")
    return _plain(
        stripe.Webhook.construct_event(
            payload,
            signature,
            settings.STRIPE_WEBHOOK_SECRET,
            tolerance=settings.STRIPE_WEBHOOK_TOLERANCE,
        )
    )
