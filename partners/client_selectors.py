"""Reads behind the portal's client and team pages and the console's client list. Each takes the
partner explicitly, so a caller cannot forget the scope; each runs a fixed number of queries."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count, F, Q, QuerySet

from accounts.models import ApiKey, Invitation
from core.models import AuditEntry

from .enums import ClientStatus
from .models import Client, Partner, PartnerMembership

CLIENT_OBJECT_TYPE = Client._meta.label_lower


def partner_clients(partner: Partner) -> QuerySet[Client]:
    return Client.objects.filter(partner=partner)


def client_service_tiers(partner: Partner) -> list[str]:
    """The distinct, non-empty service tiers this partner uses (one query)."""
    return list(
        Client.objects.filter(partner=partner)
        .exclude(service_tier="")
        .order_by("service_tier")
        .values_list("service_tier", flat=True)
        .distinct()
    )


@dataclass(frozen=True)
class StatusCount:
    status: str
    label: str
    count: int


@dataclass(frozen=True)
class ClientOverview:
    total: int
    status_counts: list[StatusCount]  # every status, in lifecycle order
    service_tiers: list[str]  # distinct and non-empty, sorted
    # (status, service tier) → how many of those clients match the `matching` condition
    matched: dict[tuple[str, str], int]

    def matching(self, *, service_tier: str | None = None) -> int:
        """How many clients match the condition, and have this service tier if given."""
        return sum(
            n
            for (_status, tier), n in self.matched.items()
            if not service_tier or tier == service_tier
        )


def client_overview(partner: Partner, matching: Q | None = None) -> ClientOverview:
    """Counts per status, the service tiers in use and how many clients meet `matching` (per
    status and tier, so that a filter on the tier is a sum), from one grouped query over the
    partner's clients. It reads client_partner_summary_idx only (an index-only scan): `matching`
    may use what that index holds — status, service tier, created_at, search_key."""
    counts: dict[str, Count] = {"n": Count("*")}
    if matching:
        # COUNT(status), never NULL: a COUNT(*) with a filter, answered from the index alone.
        counts["matched"] = Count("status", filter=matching)
    groups = (
        Client.objects.filter(partner=partner)
        .order_by()
        .values_list("status", "service_tier")
        .annotate(**counts)
    )
    by_status: dict[str, int] = dict.fromkeys(ClientStatus.values, 0)
    tiers: set[str] = set()
    matched: dict[tuple[str, str], int] = {}
    for status, tier, n, *hits in groups:
        by_status[status] = by_status.get(status, 0) + n
        matched[status, tier] = hits[0] if hits else n
        if tier:
            tiers.add(tier)
    return ClientOverview(
        total=sum(by_status.values()),
        status_counts=[
            StatusCount(status=value, label=label, count=by_status[value])
            for value, label in ClientStatus.choices
        ],
        service_tiers=sorted(tiers),
        matched=matched,
    )


def client_history(client: Client, limit: int = 100) -> list[AuditEntry]:
    """The client's audit trail, newest first: creation, edits, status changes."""
    return list(
        AuditEntry.objects.filter(object_type=CLIENT_OBJECT_TYPE, object_id=str(client.pk))
        .order_by("-at", "-id")
        .only("at", "actor_label", "actor_kind", "action", "before", "after")[:limit]
    )


def team_members(partner: Partner) -> list[PartnerMembership]:
    return list(
        PartnerMembership.objects.filter(partner=partner)
        .select_related("user")
        .order_by("user__email")
    )


def team_invitations_open(partner: Partner) -> list[Invitation]:
    """Invitations into this partner that nobody accepted or revoked yet (expired ones too,
    so an owner can see and revoke them)."""
    return list(
        Invitation.objects.filter(
            partner_id=partner.pk, accepted_at__isnull=True, revoked_at__isnull=True
        )
        .select_related("invited_by")
        .order_by("-created_at")
    )


def partner_api_keys(partner: Partner) -> list[ApiKey]:
    return list(
        ApiKey.objects.filter(partner_id=partner.pk)
        .select_related("created_by")
        .order_by(F("revoked_at").asc(nulls_first=True), "-created_at")
    )
