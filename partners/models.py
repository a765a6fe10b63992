"""The partner program: programs → tracks → tiers, partners (MSPs) and their users, clients,
applications, agreements and onboarding. All in the vendor's schema."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q, Value
from django.db.models.functions import Concat, Upper

from accounts.enums import PartnerRole

from .enums import (
    ApplicationStatus,
    ClientStatus,
    OnboardingStepKind,
    PartnerStatus,
    SupportSla,
    TierChangeKind,
)

PERCENT = [MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("100"))]


def _percent_check(field: str, name: str) -> models.CheckConstraint:
    return models.CheckConstraint(
        condition=Q(**{f"{field}__gte": 0}) & Q(**{f"{field}__lte": 100}), name=name
    )


class Program(models.Model):
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Track(models.Model):
    program = models.ForeignKey(Program, on_delete=models.PROTECT, related_name="tracks")
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=60, unique=True)
    description = models.TextField(blank=True)
    accepts_applications = models.BooleanField(default=True)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position", "name"]

    def __str__(self) -> str:
        return self.name


class Tier(models.Model):
    """An ordered level of a track: requirements to reach it and benefits it gives."""

    track = models.ForeignKey(Track, on_delete=models.PROTECT, related_name="tiers")
    name = models.CharField(max_length=100)
    rank = models.PositiveSmallIntegerField(help_text="1 is the entry tier; higher is better.")
    # Requirements
    min_mrr = models.DecimalField(max_digits=14, decimal_places=2, default=Decimal("0"))
    min_active_clients = models.PositiveIntegerField(default=0)
    min_certified_technicians = models.PositiveIntegerField(default=0)
    requires_agreement = models.BooleanField(default=True)
    # Benefits
    wholesale_discount_pct = models.DecimalField(
        max_digits=5, decimal_places=2, default=Decimal("0"), validators=PERCENT
    )
    commission_rate_pct = models.DecimalField(
        max_digits=5, decimal_places=2, default=Decimal("0"), validators=PERCENT
    )
    growth_bonus_eligible = models.BooleanField(default=False)
    support_sla = models.CharField(
        max_length=16, choices=SupportSla.choices, default=SupportSla.STANDARD
    )

    class Meta:
        ordering = ["track", "rank"]
        constraints = [
            models.UniqueConstraint(fields=["track", "rank"], name="tier_rank_unique_per_track"),
            models.UniqueConstraint(fields=["track", "name"], name="tier_name_unique_per_track"),
            models.CheckConstraint(condition=Q(min_mrr__gte=0), name="tier_min_mrr_not_negative"),
            _percent_check("wholesale_discount_pct", "tier_discount_is_percent"),
            _percent_check("commission_rate_pct", "tier_commission_is_percent"),
        ]

    def __str__(self) -> str:
        return f"{self.track.name} · {self.name}"


class Partner(models.Model):
    """An MSP in the program."""

    name = models.CharField(max_length=200)
    external_id = models.CharField(max_length=100, blank=True)
    status = models.CharField(
        max_length=16, choices=PartnerStatus.choices, default=PartnerStatus.ONBOARDING
    )
    status_since = models.DateField()
    track = models.ForeignKey(Track, on_delete=models.PROTECT, related_name="partners")
    tier = models.ForeignKey(
        Tier, null=True, blank=True, on_delete=models.PROTECT, related_name="partners"
    )
    tier_pinned = models.BooleanField(default=False)
    tier_pin_reason = models.CharField(max_length=500, blank=True)
    # Billing profile
    currency = models.CharField(max_length=3)
    country = models.CharField(max_length=2, help_text="ISO 3166-1 alpha-2")
    billing_email = models.EmailField(blank=True)
    tax_rate = models.DecimalField(
        max_digits=5,
        decimal_places=2,
        default=Decimal("0"),
        validators=PERCENT,
        help_text="Percent, e.g. 19.00",
    )
    billing_address = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["external_id"],
                condition=~Q(external_id=""),
                name="partner_external_id_unique",
            ),
            _percent_check("tax_rate", "partner_tax_rate_is_percent"),
        ]
        indexes = [models.Index(fields=["status", "track"], name="partner_status_track_idx")]

    def __str__(self) -> str:
        return self.name

    @property
    def is_read_only(self) -> bool:
        """Suspended and terminated partners can look but not change anything."""
        return self.status in (PartnerStatus.SUSPENDED, PartnerStatus.TERMINATED)

    @property
    def billing_profile_complete(self) -> bool:
        return bool(self.billing_email and self.country and self.currency and self.billing_address)


class PartnerStatusChange(models.Model):
    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="status_changes")
    from_status = models.CharField(max_length=16, choices=PartnerStatus.choices, blank=True)
    to_status = models.CharField(max_length=16, choices=PartnerStatus.choices)
    effective_on = models.DateField()
    reason = models.CharField(max_length=500, blank=True)
    actor_label = models.CharField(max_length=254)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.partner} {self.from_status or '—'} → {self.to_status}"


class PartnerMembership(models.Model):
    """A portal user's place in one partner, with a role."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="partner_membership"
    )
    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=PartnerRole.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["partner", "user__email"]

    def __str__(self) -> str:
        return f"{self.user} @ {self.partner} ({self.role})"


class Client(models.Model):
    """One of an MSP's end-client organisations."""

    # No index of its own: every index below starts with the partner.
    partner = models.ForeignKey(
        Partner, on_delete=models.PROTECT, related_name="clients", db_index=False
    )
    name = models.CharField(max_length=200)
    external_id = models.CharField(max_length=100)
    status = models.CharField(
        max_length=16, choices=ClientStatus.choices, default=ClientStatus.ACTIVE
    )
    service_tier = models.CharField(
        max_length=60, blank=True, help_text="The MSP's own service level, e.g. Essentials."
    )
    started_on = models.DateField()
    ended_on = models.DateField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # What the client list's search looks in: name and external id, upper-cased once when the row
    # is written instead of twice per row on every search (partners/filters.py matches it with
    # the same UPPER(…) LIKE UPPER(…) as icontains). The newline keeps a match from spanning both.
    search_key = models.GeneratedField(
        expression=Upper(Concat("name", Value("\n"), "external_id")),
        output_field=models.TextField(),
        db_persist=True,
    )

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["partner", "external_id"], name="client_external_id_unique_per_partner"
            ),
            models.CheckConstraint(
                condition=Q(ended_on__isnull=True) | Q(ended_on__gte=models.F("started_on")),
                name="client_ends_after_it_starts",
            ),
        ]
        indexes = [
            # The list's counts per status and service tier, and the number of rows a filter
            # or search matches, read from this index alone (an index-only scan, no table rows).
            models.Index(
                fields=["partner", "status", "service_tier"],
                include=["created_at", "search_key"],
                name="client_partner_summary_idx",
            ),
            models.Index(fields=["partner", "name", "id"], name="client_partner_name_idx"),
            models.Index(fields=["partner", "created_at"], name="client_partner_created_idx"),
            # Usage ingest resolves a batch's clients by external id alone (a vendor key's batch
            # spans partners, named by id or external id) — without it, a seq scan per batch.
            models.Index(fields=["external_id"], name="client_external_id_idx"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_billable(self) -> bool:
        return self.status not in (ClientStatus.TRIAL, ClientStatus.NFR)


class Application(models.Model):
    """A company's request to join the program, from the public form on the portal domain."""

    company_name = models.CharField(max_length=200)
    contact_name = models.CharField(max_length=200)
    contact_email = models.EmailField()
    country = models.CharField(max_length=2)
    track = models.ForeignKey(Track, on_delete=models.PROTECT, related_name="applications")
    expected_client_count = models.PositiveIntegerField()
    message = models.TextField(blank=True)
    status = models.CharField(
        max_length=16, choices=ApplicationStatus.choices, default=ApplicationStatus.PENDING
    )
    decision_reason = models.CharField(max_length=1000, blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    partner = models.OneToOneField(
        Partner, null=True, blank=True, on_delete=models.SET_NULL, related_name="application"
    )
    submitted_ip = models.GenericIPAddressField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["contact_email"],
                condition=Q(status="pending"),
                name="application_one_pending_per_email",
            )
        ]

    def __str__(self) -> str:
        return f"{self.company_name} ({self.get_status_display()})"


class AgreementVersion(models.Model):
    """An immutable, versioned agreement text of a track (Markdown)."""

    track = models.ForeignKey(Track, on_delete=models.PROTECT, related_name="agreements")
    version = models.PositiveIntegerField()
    title = models.CharField(max_length=200)
    body_markdown = models.TextField()
    content_hash = models.CharField(max_length=64)
    published_at = models.DateTimeField(auto_now_add=True)
    # Partners who accepted an earlier version must re-accept by this date.
    reaccept_by = models.DateField(null=True, blank=True)
    created_by_label = models.CharField(max_length=254)

    class Meta:
        ordering = ["track", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["track", "version"], name="agreement_version_unique")
        ]

    def __str__(self) -> str:
        return f"{self.title} v{self.version}"


class AgreementAcceptance(models.Model):
    partner = models.ForeignKey(Partner, on_delete=models.PROTECT, related_name="acceptances")
    agreement = models.ForeignKey(
        AgreementVersion, on_delete=models.PROTECT, related_name="acceptances"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    signer_name = models.CharField(max_length=200)
    signer_title = models.CharField(max_length=200)
    signer_email = models.EmailField()
    accepted_at = models.DateTimeField(auto_now_add=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    content_hash = models.CharField(max_length=64)

    class Meta:
        ordering = ["-accepted_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["partner", "agreement"], name="agreement_accepted_once_per_partner"
            )
        ]

    def __str__(self) -> str:
        return f"{self.partner} accepted {self.agreement}"


class OnboardingStep(models.Model):
    """One step of a track's onboarding checklist."""

    track = models.ForeignKey(Track, on_delete=models.CASCADE, related_name="onboarding_steps")
    kind = models.CharField(max_length=32, choices=OnboardingStepKind.choices)
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    required = models.BooleanField(default=True)
    position = models.PositiveSmallIntegerField(default=0)
    # For `complete_course` steps: the course's code (enablement plugs in through requirements).
    course_code = models.CharField(max_length=60, blank=True)

    class Meta:
        ordering = ["track", "position", "id"]

    def __str__(self) -> str:
        return self.title


class OnboardingProgress(models.Model):
    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="onboarding")
    step = models.ForeignKey(OnboardingStep, on_delete=models.CASCADE, related_name="progress")
    completed_at = models.DateTimeField()
    completed_by_label = models.CharField(max_length=254)

    class Meta:
        ordering = ["step__position"]
        constraints = [
            models.UniqueConstraint(fields=["partner", "step"], name="onboarding_step_done_once")
        ]

    def __str__(self) -> str:
        return f"{self.partner}: {self.step}"


class TierChange(models.Model):
    """History of a partner's tier: evaluations, pins, with the reason and the measured values."""

    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="tier_changes")
    from_tier = models.ForeignKey(
        Tier, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    to_tier = models.ForeignKey(
        Tier, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    kind = models.CharField(max_length=16, choices=TierChangeKind.choices)
    reason = models.CharField(max_length=1000)
    measurements = models.JSONField(default=dict)
    actor_label = models.CharField(max_length=254)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.partner}: {self.from_tier} → {self.to_tier}"


class AgreementNotice(models.Model):
    """An email sent about a new agreement version to a partner that must re-accept it: the
    announcement and each reminder are sent once (the unique constraint makes a re-run a no-op)."""

    class Kind(models.TextChoices):
        PUBLISHED = "published", "New version published"
        REMINDER_7_DAYS = "reminder_7_days", "Reminder 7 days before the deadline"
        REMINDER_1_DAY = "reminder_1_day", "Reminder 1 day before the deadline"

    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="agreement_notices")
    agreement = models.ForeignKey(
        AgreementVersion, on_delete=models.PROTECT, related_name="notices"
    )
    kind = models.CharField(max_length=32, choices=Kind.choices)
    recipients = models.JSONField(default=list)
    sent_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-sent_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["partner", "agreement", "kind"], name="agreement_notice_sent_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.partner}: {self.get_kind_display()} ({self.agreement})"
