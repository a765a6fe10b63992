from django.db import models


class PartnerStatus(models.TextChoices):
    APPLIED = "applied", "Applied"
    ONBOARDING = "onboarding", "Onboarding"
    ACTIVE = "active", "Active"
    SUSPENDED = "suspended", "Suspended"
    TERMINATED = "terminated", "Terminated"


# Lifecycle: which status may follow which (terminated is final).
PARTNER_TRANSITIONS: dict[str, set[str]] = {
    PartnerStatus.APPLIED: {PartnerStatus.ONBOARDING, PartnerStatus.TERMINATED},
    PartnerStatus.ONBOARDING: {
        PartnerStatus.ACTIVE,
        PartnerStatus.SUSPENDED,
        PartnerStatus.TERMINATED,
    },
    PartnerStatus.ACTIVE: {PartnerStatus.SUSPENDED, PartnerStatus.TERMINATED},
    PartnerStatus.SUSPENDED: {
        PartnerStatus.ACTIVE,
        PartnerStatus.ONBOARDING,
        PartnerStatus.TERMINATED,
    },
    PartnerStatus.TERMINATED: set(),
}


class ClientStatus(models.TextChoices):
    TRIAL = "trial", "Trial"
    ACTIVE = "active", "Active"
    NFR = "nfr", "Not for resale"
    SUSPENDED = "suspended", "Suspended"
    CHURNED = "churned", "Churned"


# Trial and not-for-resale clients are never billed.
UNBILLED_CLIENT_STATUSES = {ClientStatus.TRIAL, ClientStatus.NFR}


class ApplicationStatus(models.TextChoices):
    PENDING = "pending", "Pending review"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"


class SupportSla(models.TextChoices):
    STANDARD = "standard", "Standard"
    PRIORITY = "priority", "Priority"
    PREMIUM = "premium", "Premium"
    ENTERPRISE = "enterprise", "Enterprise"


class OnboardingStepKind(models.TextChoices):
    ACCEPT_AGREEMENT = "accept_agreement", "Accept the partner agreement"
    BILLING_PROFILE = "billing_profile", "Complete the billing profile"
    COMPLETE_COURSE = "complete_course", "Complete a course"
    FIRST_CLIENT = "first_client", "Provision the first client"
    API_KEY = "api_key", "Create an API key"
    CUSTOM = "custom", "Custom step (signed off by the vendor)"


class TierChangeKind(models.TextChoices):
    EVALUATION = "evaluation", "Evaluation"
    PINNED = "pinned", "Pinned by the vendor"
    UNPINNED = "unpinned", "Pin removed"
