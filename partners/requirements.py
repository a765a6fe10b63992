"""Tier requirements, measured through one extension point.

Tier logic asks `measure(partners)` for each partner's numbers and never knows where they come
from. This app measures what it owns (active clients, agreement accepted); later areas register
a provider for theirs at startup — billing for "mrr", enablement for "certified_technicians" —
in their AppConfig.ready(), without touching tier logic. Until a provider is registered, the
metric reads as zero.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Count, Q

from .enums import ClientStatus

# A provider takes partner ids and returns {partner_id: value} (missing ids mean zero).
MetricProvider = Callable[[list[int]], dict[int, Decimal | int]]

_providers: dict[str, MetricProvider] = {}

EXTERNAL_METRICS = ("mrr", "certified_technicians")


def register_metric(name: str, provider: MetricProvider) -> None:
    if name not in EXTERNAL_METRICS:
        raise ValueError(f"unknown metric {name!r}; expected one of {EXTERNAL_METRICS}")
    _providers[name] = provider


def registered_metrics() -> set[str]:
    return set(_providers)


@dataclass(frozen=True)
class PartnerMetrics:
    mrr: Decimal
    active_clients: int
    certified_technicians: int
    agreement_accepted: bool


def measure(partners: Iterable) -> dict[int, PartnerMetrics]:
    """The numbers tier requirements are checked against, for many partners in a few queries."""
    from .models import AgreementAcceptance, AgreementVersion, Partner

    ids = [p.pk for p in partners]
    if not ids:
        return {}
    active = dict(
        Partner.objects.filter(pk__in=ids)
        .annotate(n=Count("clients", filter=Q(clients__status=ClientStatus.ACTIVE)))
        .values_list("pk", "n")
    )
    # The agreement counts as accepted when the partner accepted its track's latest version.
    latest = {}
    for version in AgreementVersion.objects.order_by("track_id", "-version").distinct("track_id"):
        latest[version.track_id] = version.pk
    track_of = dict(Partner.objects.filter(pk__in=ids).values_list("pk", "track_id"))
    accepted = set(
        AgreementAcceptance.objects.filter(
            partner_id__in=ids, agreement_id__in=list(latest.values())
        ).values_list("partner_id", "agreement_id")
    )
    external = {name: provider(ids) for name, provider in _providers.items()}
    result = {}
    for pid in ids:
        latest_version = latest.get(track_of[pid])
        result[pid] = PartnerMetrics(
            mrr=Decimal(external.get("mrr", {}).get(pid, 0)),
            active_clients=active.get(pid, 0),
            certified_technicians=int(external.get("certified_technicians", {}).get(pid, 0)),
            # A track without an agreement has nothing to accept.
            agreement_accepted=latest_version is None or (pid, latest_version) in accepted,
        )
    return result
