"""Reads for the program, tier and agreement pages: each a fixed number of queries."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass

from django.db.models import Count, Prefetch, QuerySet

from partners.evaluation import TierSpec, evaluate, meets, next_tier_above, shortfalls
from partners.models import (
    AgreementAcceptance,
    AgreementVersion,
    Partner,
    Program,
    Tier,
    TierChange,
    Track,
)
from partners.requirements import PartnerMetrics, measure
from partners.services.agreements import AgreementState, agreement_states

HISTORY_LIMIT = 50


def program_overview() -> list[Program]:
    """Programs → tracks → tiers (with how many partners are on each): three queries."""
    tiers = Tier.objects.order_by("rank").annotate(partner_count=Count("partners"))
    tracks = Track.objects.order_by("position", "name").prefetch_related(
        Prefetch("tiers", queryset=tiers)
    )
    return list(Program.objects.order_by("name").prefetch_related(Prefetch("tracks", tracks)))


def track_tiers(track: Track) -> list[Tier]:
    return list(
        Tier.objects.filter(track=track).order_by("rank").annotate(partner_count=Count("partners"))
    )


def tier_history(partner: Partner, limit: int = HISTORY_LIMIT) -> list[TierChange]:
    return list(
        TierChange.objects.filter(partner=partner)
        .select_related("from_tier", "to_tier")
        .order_by("-at", "-id")[:limit]
    )


@dataclass(frozen=True)
class TierOutlook:
    """A partner's tier, the one above it and what it still lacks for it."""

    tier: Tier | None  # the tier the partner is on now
    next_tier: Tier | None  # the tier ranked above it (the first tier when it has none)
    shortfalls: tuple[str, ...]  # what next_tier still needs, as sentences
    qualifies_for_next: bool  # next_tier's requirements are met already (moves at evaluation)
    evaluated: Tier | None  # the tier an evaluation would give today
    pinned: bool
    metrics: PartnerMetrics
    ladder: list[Tier]


def tier_outlook(partner: Partner) -> TierOutlook:
    ladder = list(Tier.objects.filter(track_id=partner.track_id).order_by("rank"))
    by_id = {t.pk: t for t in ladder}
    specs = [TierSpec.from_tier(t) for t in ladder]
    metrics = measure([partner])[partner.pk]
    current = by_id.get(partner.tier_id)
    upcoming = next_tier_above(specs, current.rank if current else None)
    live = evaluate(specs, metrics, partner.currency)
    return TierOutlook(
        tier=current,
        next_tier=by_id[upcoming.id] if upcoming else None,
        shortfalls=shortfalls(upcoming, metrics, partner.currency) if upcoming else (),
        qualifies_for_next=bool(upcoming and meets(upcoming, metrics)),
        evaluated=by_id[live.tier.id] if live.tier else None,
        pinned=partner.tier_pinned,
        metrics=metrics,
        ladder=ladder,
    )


def agreement_state(partner: Partner) -> AgreementState:
    return agreement_states([partner])[partner.pk]


def acceptance_history(partner: Partner) -> list[AgreementAcceptance]:
    return list(
        AgreementAcceptance.objects.filter(partner=partner)
        .select_related("agreement", "agreement__track")
        .order_by("-accepted_at", "-id")
    )


@dataclass(frozen=True)
class TrackAgreements:
    track: Track
    current: AgreementVersion | None
    versions: int
    partners: int  # partners of the track that can accept (onboarding or active)
    accepted: int  # … of which accepted the current version
    must_reaccept: int  # … that accepted an earlier version and not the current one
    overdue: int  # … of those, past the deadline


def agreements_overview() -> list[TrackAgreements]:
    """Per track: the current version and how partners stand with it. Five queries."""
    from partners.services.agreements import NOTIFIED_STATUSES

    tracks = list(Track.objects.select_related("program").order_by("position", "name"))
    versions: dict[int, list[AgreementVersion]] = defaultdict(list)
    for version in AgreementVersion.objects.only(
        "pk", "track_id", "version", "title", "published_at", "reaccept_by"
    ).order_by("track_id", "-version"):
        versions[version.track_id].append(version)
    partners = list(
        Partner.objects.filter(status__in=NOTIFIED_STATUSES).only("pk", "track_id", "name")
    )
    states = agreement_states(partners)
    counts: dict[int, Counter] = defaultdict(Counter)
    for partner in partners:
        state = states[partner.pk]
        tally = counts[partner.track_id]
        tally["partners"] += 1
        tally["accepted"] += state.accepted is not None
        tally["must_reaccept"] += state.must_reaccept
        tally["overdue"] += state.overdue
    return [
        TrackAgreements(
            track=track,
            current=versions[track.pk][0] if versions[track.pk] else None,
            versions=len(versions[track.pk]),
            partners=counts[track.pk]["partners"],
            accepted=counts[track.pk]["accepted"],
            must_reaccept=counts[track.pk]["must_reaccept"],
            overdue=counts[track.pk]["overdue"],
        )
        for track in tracks
    ]


def track_versions(track: Track) -> QuerySet[AgreementVersion]:
    return (
        AgreementVersion.objects.filter(track=track)
        .annotate(acceptance_count=Count("acceptances"))
        .order_by("-version")
    )


@dataclass(frozen=True)
class PartnerStanding:
    partner: Partner
    state: AgreementState


def track_partner_standings(track: Track) -> list[PartnerStanding]:
    """Every onboarding/active partner of the track with its agreement standing, the ones that
    must act first (overdue, then pending re-acceptance, then never accepted)."""
    from partners.services.agreements import NOTIFIED_STATUSES

    partners = list(
        Partner.objects.filter(track=track, status__in=NOTIFIED_STATUSES).order_by("name", "pk")
    )
    states = agreement_states(partners)
    rows = [PartnerStanding(partner=p, state=states[p.pk]) for p in partners]

    def urgency(row: PartnerStanding) -> int:
        state = row.state
        if state.overdue:
            return 0
        if state.must_reaccept:
            return 1
        if state.pending:
            return 2
        return 3

    return sorted(rows, key=urgency)
