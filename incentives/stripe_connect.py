"""The Stripe Connect calls of payouts, through the official SDK.

One `StripeClient` per call site, its API base from `STRIPE_CONNECT_API_BASE` (Stripe's by
default; tests point it at a local fake that follows Stripe's documented request shapes)."""

from __future__ import annotations

from typing import Any

import stripe
from django.conf import settings

__all__ = ["connect_client", "connect_configured", "create_transfer", "find_transfer"]


def connect_configured() -> bool:
    return bool(settings.PAYOUTS_STRIPE_SECRET_KEY)


def connect_client() -> stripe.StripeClient:
    return stripe.StripeClient(
        settings.PAYOUTS_STRIPE_SECRET_KEY,
        base_addresses={"api": settings.STRIPE_CONNECT_API_BASE},
        # Our own state machine re-runs the job; the SDK must not resend behind our back.
        max_network_retries=0,
    )


def find_transfer(client: stripe.StripeClient, *, transfer_group: str) -> Any | None:
    """The transfer already sent for `transfer_group`, if any (Stripe lists newest first)."""
    page = client.v1.transfers.list(params={"transfer_group": transfer_group, "limit": 10})
    for transfer in page.data:
        if transfer["transfer_group"] == transfer_group and not transfer["reversed"]:
            return transfer
    return None


def create_transfer(
    client: stripe.StripeClient,
    *,
    amount_minor: int,
    currency: str,
    destination: str,
    transfer_group: str,
    metadata: dict[str, str],
    idempotency_key: str,
) -> Any:
    return client.v1.transfers.create(
        params={
            "amount": amount_minor,
            "currency": currency.lower(),
            "destination": destination,
            "transfer_group": transfer_group,
            "metadata": metadata,
        },
        options={"idempotency_key": idempotency_key},
    )
