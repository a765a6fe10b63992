"""Pricing a charge for a partner's clients: each client on its own, or pooled.

Pooled: the tiers are counted over the sum of all the partner's clients' quantities, that total is
priced and rounded once, and the rounded pooled amount is allocated back to the clients in
proportion to their quantities so the invoice still breaks down per client. Allocation is by the
largest remainder method in minor units: every client first gets the floor of its exact share,
then the minor units left over go one each to the clients with the largest remainders (ties: lower
client id first). So the client amounts are each rounded to the minor unit, sum exactly to the
pooled amount, each is within one minor unit of its exact share, and a client with zero quantity
gets zero.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from billing.rating.charge_models import price
from billing.rating.types import ChargeSpec, PricedQuantity, TierAmount, exact_arithmetic
from core.money import effective_unit_price, from_minor_units, require_decimal, to_minor_units

ClientId = int


@dataclass(frozen=True, slots=True)
class ClientCharge:
    """One client's line for one charge. For a pooled charge, `amount` is the client's allocated
    share, `unit_price_effective` the pooled one, and the tier breakdown lives once on
    `ChargeRating.pooled` (tiers were counted over the pool, not per client)."""

    client_id: ClientId
    quantity: Decimal
    amount: Decimal
    unit_price_effective: Decimal
    tier_breakdown: tuple[TierAmount, ...] = ()


@dataclass(frozen=True, slots=True)
class ChargeRating:
    """A charge rated for one partner: a line per client, in client id order, and for a pooled
    charge the pooled pricing they were allocated from (None when priced per client)."""

    clients: tuple[ClientCharge, ...]
    pooled: PricedQuantity | None
    total: Decimal  # Σ client amounts (== pooled.amount when pooled)


def allocate_largest_remainder(
    total_minor: int, weights: Mapping[ClientId, Decimal]
) -> dict[ClientId, int]:
    """Split `total_minor` minor units over the clients in proportion to `weights`: floors of the
    exact shares, then the leftover units to the largest remainders (ties: lower id first).

    Exact, in integers: the weights over a common denominator (each Decimal is a ratio of
    integers), so share = total × weight / pool is `divmod(total × weight, pool)` — its floor,
    and its remainder over the same denominator `pool`, which orders the remainders as the
    fractions themselves would."""
    if total_minor < 0:
        raise ValueError("Cannot allocate a negative amount.")
    ratios = {
        client: require_decimal(w, "quantity").as_integer_ratio() for client, w in weights.items()
    }
    if any(numerator < 0 for numerator, _ in ratios.values()):
        raise ValueError("Quantities cannot be negative.")
    common = math.lcm(*(denominator for _, denominator in ratios.values())) if ratios else 1
    scaled = {
        client: numerator * (common // denominator)
        for client, (numerator, denominator) in ratios.items()
    }
    pool = sum(scaled.values())
    if pool == 0:
        if total_minor:
            raise ValueError("Cannot allocate an amount over clients that have no quantity.")
        return dict.fromkeys(weights, 0)
    allocated: dict[ClientId, int] = {}
    remainders: dict[ClientId, int] = {}
    for client, weight in scaled.items():
        allocated[client], remainders[client] = divmod(total_minor * weight, pool)
    leftover = total_minor - sum(allocated.values())
    by_remainder = sorted(scaled, key=lambda client: (-remainders[client], client))
    # leftover < number of clients with a non-zero remainder, so a zero-weight client never gains.
    for client in by_remainder[:leftover]:
        allocated[client] += 1
    return allocated


def rate_charge(charge: ChargeSpec, quantities: Mapping[ClientId, Decimal]) -> ChargeRating:
    """Rate one charge for one partner's clients, given each client's quantity."""
    clients = sorted(quantities)
    if not charge.pooled:
        lines = []
        for client in clients:
            priced = price(quantities[client], charge)
            lines.append(
                ClientCharge(
                    client_id=client,
                    quantity=quantities[client],
                    amount=priced.amount,
                    unit_price_effective=priced.unit_price_effective,
                    tier_breakdown=priced.tier_breakdown,
                )
            )
        with exact_arithmetic():
            total = sum((line.amount for line in lines), Decimal(0))
        return ChargeRating(clients=tuple(lines), pooled=None, total=total)

    with exact_arithmetic():
        pooled_quantity = sum(
            (require_decimal(quantities[c], "quantity") for c in clients), Decimal(0)
        )
    pooled = price(pooled_quantity, charge)
    shares = allocate_largest_remainder(
        to_minor_units(pooled.amount, charge.currency), {c: quantities[c] for c in clients}
    )
    lines = [
        ClientCharge(
            client_id=client,
            quantity=quantities[client],
            amount=from_minor_units(shares[client], charge.currency),
            unit_price_effective=(
                pooled.unit_price_effective
                if quantities[client]
                else effective_unit_price(Decimal(0), Decimal(0))
            ),
        )
        for client in clients
    ]
    return ChargeRating(clients=tuple(lines), pooled=pooled, total=pooled.amount)
