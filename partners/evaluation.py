"""Tier evaluation: pure logic over plain dataclasses, no database.

A partner's tier is the highest tier of its track whose requirements are all met by its
measured numbers (`partners.requirements.PartnerMetrics`). Each requirement only ever asks for
"at least", so more of anything can never lower the tier. The next tier is the lowest one ranked
above it; its shortfalls are what the partner still lacks, as sentences fit to show it
("2 more active clients", "€1,250.00 more MRR", "accept the current agreement").
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal
from typing import Any

from babel.numbers import format_currency

from core.money import minor_units

from .requirements import PartnerMetrics

LOCALE = "en"


@dataclass(frozen=True)
class TierSpec:
    """What evaluation needs to know about a tier."""

    id: int
    name: str
    rank: int
    min_mrr: Decimal = Decimal("0")
    min_active_clients: int = 0
    min_certified_technicians: int = 0
    requires_agreement: bool = False

    @classmethod
    def from_tier(cls, tier: Any) -> TierSpec:
        return cls(
            id=tier.pk,
            name=tier.name,
            rank=tier.rank,
            min_mrr=Decimal(tier.min_mrr),
            min_active_clients=tier.min_active_clients,
            min_certified_technicians=tier.min_certified_technicians,
            requires_agreement=tier.requires_agreement,
        )


@dataclass(frozen=True)
class TierEvaluation:
    tier: TierSpec | None  # the highest tier whose requirements are all met (None: none is)
    next_tier: TierSpec | None  # the lowest tier above it (None: already at the top)
    shortfalls: tuple[str, ...]  # what next_tier still needs; empty when there is no next tier


def money(amount: Decimal, currency: str) -> str:
    return format_currency(amount, currency, locale=LOCALE)


def _plural(count: int, singular: str, plural: str) -> str:
    return f"{count} {singular if count == 1 else plural}"


def _round_up_to_minor_unit(amount: Decimal, currency: str) -> Decimal:
    # A shortfall of €0.004 is still a shortfall: show the next cent, never "€0.00 more".
    exponent = Decimal(1).scaleb(-minor_units(currency))
    return amount.quantize(exponent, rounding=ROUND_CEILING)


def meets(tier: TierSpec, metrics: PartnerMetrics) -> bool:
    return (
        metrics.mrr >= tier.min_mrr
        and metrics.active_clients >= tier.min_active_clients
        and metrics.certified_technicians >= tier.min_certified_technicians
        and (metrics.agreement_accepted or not tier.requires_agreement)
    )


def shortfalls(tier: TierSpec, metrics: PartnerMetrics, currency: str) -> tuple[str, ...]:
    """What `metrics` lacks to meet `tier`, in the order the requirements are listed."""
    missing: list[str] = []
    if metrics.mrr < tier.min_mrr:
        gap = _round_up_to_minor_unit(tier.min_mrr - metrics.mrr, currency)
        missing.append(f"{money(gap, currency)} more MRR")
    if metrics.active_clients < tier.min_active_clients:
        gap = tier.min_active_clients - metrics.active_clients
        missing.append(_plural(gap, "more active client", "more active clients"))
    if metrics.certified_technicians < tier.min_certified_technicians:
        gap = tier.min_certified_technicians - metrics.certified_technicians
        missing.append(_plural(gap, "more certified technician", "more certified technicians"))
    if tier.requires_agreement and not metrics.agreement_accepted:
        missing.append("accept the current agreement")
    return tuple(missing)


def requirements_met(tier: TierSpec, metrics: PartnerMetrics, currency: str) -> tuple[str, ...]:
    """The requirements of `tier` that `metrics` meets, with the measured value (for reasons)."""
    met: list[str] = []
    if tier.min_mrr > 0 and metrics.mrr >= tier.min_mrr:
        met.append(f"{money(metrics.mrr, currency)} MRR (minimum {money(tier.min_mrr, currency)})")
    if tier.min_active_clients > 0 and metrics.active_clients >= tier.min_active_clients:
        met.append(
            f"{_plural(metrics.active_clients, 'active client', 'active clients')} "
            f"(minimum {tier.min_active_clients})"
        )
    if (
        tier.min_certified_technicians > 0
        and metrics.certified_technicians >= tier.min_certified_technicians
    ):
        count = metrics.certified_technicians
        met.append(
            f"{_plural(count, 'certified technician', 'certified technicians')} "
            f"(minimum {tier.min_certified_technicians})"
        )
    if tier.requires_agreement and metrics.agreement_accepted:
        met.append("agreement accepted")
    return tuple(met)


def ordered(tiers: Iterable[TierSpec]) -> list[TierSpec]:
    return sorted(tiers, key=lambda t: t.rank)


def next_tier_above(tiers: Iterable[TierSpec], rank: int | None) -> TierSpec | None:
    """The lowest tier ranked above `rank` (above nothing when rank is None)."""
    for tier in ordered(tiers):
        if rank is None or tier.rank > rank:
            return tier
    return None


def evaluate(tiers: Sequence[TierSpec], metrics: PartnerMetrics, currency: str) -> TierEvaluation:
    ladder = ordered(tiers)
    reached = None
    for tier in ladder:
        if meets(tier, metrics):
            reached = tier  # keep climbing: the highest met tier wins
    upcoming = next_tier_above(ladder, reached.rank if reached else None)
    missing = shortfalls(upcoming, metrics, currency) if upcoming else ()
    return TierEvaluation(tier=reached, next_tier=upcoming, shortfalls=missing)


def join_shortfalls(missing: Sequence[str]) -> str:
    return ", ".join(missing)


def describe(evaluation: TierEvaluation, metrics: PartnerMetrics, currency: str) -> str:
    """The reason written into the tier history: what the tier met, and what the next one misses."""
    parts: list[str] = []
    if evaluation.tier is None:
        parts.append("Meets no tier.")
    else:
        met = requirements_met(evaluation.tier, metrics, currency)
        if met:
            parts.append(f"Meets {evaluation.tier.name}: {', '.join(met)}.")
        else:
            parts.append(f"Meets {evaluation.tier.name}, which has no requirements.")
    if evaluation.next_tier is not None:
        parts.append(f"{evaluation.next_tier.name} needs {join_shortfalls(evaluation.shortfalls)}.")
    return " ".join(parts)


def measurements(metrics: PartnerMetrics, currency: str) -> dict[str, Any]:
    """The measured values as JSON, kept with each tier change."""
    return {
        "mrr": str(metrics.mrr),
        "currency": currency,
        "active_clients": metrics.active_clients,
        "certified_technicians": metrics.certified_technicians,
        "agreement_accepted": metrics.agreement_accepted,
    }
