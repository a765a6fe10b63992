"""Reads of the partners app that are more than one line of ORM: the console's partner list and
partner page, the application queue, onboarding summaries. Each runs a fixed number of queries
whatever the number of rows."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count, QuerySet

from accounts.models import Invitation
from core.models import AuditEntry
from core.views_audit import entry_changes
from partners.enums import ApplicationStatus, OnboardingStepKind
from partners.models import (
    AgreementAcceptance,
    AgreementVersion,
    Application,
    Client,
    Partner,
    PartnerMembership,
    PartnerStatusChange,
    TierChange,
    Track,
)
from partners.services.onboarding import ChecklistItem, onboarding_checklist

PARTNER_PAGE_CLIENTS = 20
PARTNER_PAGE_HISTORY = 50


def partner_list_queryset() -> QuerySet[Partner]:
    """Every partner with what the list shows; filtering, search and sorting come on top."""
    return Partner.objects.select_related("track", "tier")


def client_counts(partner_ids: list[int]) -> dict[int, int]:
    """Clients per partner for one page of partners, in one query."""
    if not partner_ids:
        return {}
    return dict(
        Client.objects.filter(partner_id__in=partner_ids)
        .order_by()
        .values("partner_id")
        .annotate(n=Count("id"))
        .values_list("partner_id", "n")
    )


def partner_countries() -> list[str]:
    """The countries partners are in, for the list's filter."""
    return list(Partner.objects.order_by("country").values_list("country", flat=True).distinct())


def application_queue(status: str | None = ApplicationStatus.PENDING) -> QuerySet[Application]:
    applications = Application.objects.select_related("track", "reviewed_by", "partner")
    if status:
        applications = applications.filter(status=status)
    # Oldest first while waiting (first come, first served); newest first once decided.
    if status == ApplicationStatus.PENDING:
        return applications.order_by("created_at", "id")
    return applications.order_by("-created_at", "-id")


def application_counts() -> dict[str, int]:
    counts = dict(
        Application.objects.order_by()
        .values("status")
        .annotate(n=Count("id"))
        .values_list("status", "n")
    )
    return {status: counts.get(status, 0) for status in ApplicationStatus.values}


@dataclass(frozen=True)
class OnboardingSummary:
    items: list[ChecklistItem]
    required_total: int
    required_done: int
    done_total: int

    @property
    def percent(self) -> int:
        """Progress over the required steps (optional ones do not hold activation back)."""
        if not self.required_total:
            return 100
        return round(100 * self.required_done / self.required_total)

    @property
    def complete(self) -> bool:
        return self.required_done == self.required_total


def onboarding_summary(partner: Partner) -> OnboardingSummary:
    items = onboarding_checklist(partner)
    required = [item for item in items if item.step.required]
    return OnboardingSummary(
        items=items,
        required_total=len(required),
        required_done=sum(1 for item in required if item.done),
        done_total=sum(1 for item in items if item.done),
    )


@dataclass(frozen=True)
class AgreementStatus:
    latest: AgreementVersion | None
    acceptance: AgreementAcceptance | None  # of the latest version
    previous: AgreementAcceptance | None  # the partner's latest acceptance of an older version

    @property
    def accepted(self) -> bool:
        return self.latest is not None and self.acceptance is not None


def agreement_status(partner: Partner) -> AgreementStatus:
    latest = AgreementVersion.objects.filter(track_id=partner.track_id).order_by("-version").first()
    acceptances = AgreementAcceptance.objects.filter(partner=partner).select_related(
        "agreement", "user"
    )
    acceptance = None
    previous = None
    for row in acceptances.order_by("-agreement__version", "-accepted_at")[:2]:
        if latest is not None and row.agreement_id == latest.pk:
            acceptance = row
        elif previous is None:
            previous = row
    return AgreementStatus(latest=latest, acceptance=acceptance, previous=previous)


def partner_memberships(partner: Partner) -> list[PartnerMembership]:
    return list(
        PartnerMembership.objects.filter(partner=partner)
        .select_related("user")
        .order_by("user__email")
    )


def partner_open_invitations(partner: Partner) -> list[Invitation]:
    return list(
        Invitation.objects.filter(
            partner_id=partner.pk, accepted_at__isnull=True, revoked_at__isnull=True
        ).order_by("email")
    )


def partner_clients_preview(partner: Partner) -> tuple[list[Client], int]:
    """The first clients by name and how many there are in all."""
    clients = Client.objects.filter(partner=partner).order_by("name", "id")
    return list(clients[:PARTNER_PAGE_CLIENTS]), clients.count()


def partner_status_history(partner: Partner) -> list[PartnerStatusChange]:
    return list(partner.status_changes.all()[:PARTNER_PAGE_HISTORY])


def partner_tier_history(partner: Partner) -> list[TierChange]:
    return list(
        TierChange.objects.filter(partner=partner).select_related("from_tier", "to_tier")[
            :PARTNER_PAGE_HISTORY
        ]
    )


def partner_audit_trail(partner: Partner) -> list[AuditEntry]:
    """The partner's own audit rows, newest first, each with its field changes."""
    entries = list(
        AuditEntry.objects.filter(
            object_type=Partner._meta.label_lower, object_id=str(partner.pk)
        ).order_by("-at", "-id")[:PARTNER_PAGE_HISTORY]
    )
    for entry in entries:
        entry.changes = entry_changes(entry)
    return entries


def track_steps_overview(track: Track) -> list:
    """A track's steps with how many partners completed each (one query)."""
    return list(
        track.onboarding_steps.annotate(done_count=Count("progress")).order_by("position", "id")
    )


# Where in the portal a partner does each kind of step (URL names; absent areas are skipped).
STEP_PORTAL_URLS: dict[str, str] = {
    OnboardingStepKind.ACCEPT_AGREEMENT: "portal:agreement",
    OnboardingStepKind.BILLING_PROFILE: "portal:billing_profile",
    OnboardingStepKind.FIRST_CLIENT: "portal:clients",
    OnboardingStepKind.API_KEY: "portal:team",
    OnboardingStepKind.COMPLETE_COURSE: "portal:training",
}
