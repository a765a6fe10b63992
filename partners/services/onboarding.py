"""The onboarding checklist of a partner: which of its track's steps are done, and activation.

Most steps are facts the system can see (agreement accepted, billing profile complete, a client
provisioned, an API key created, a course completed); custom steps are signed off by the vendor.
`onboarding_refresh` records newly done steps (with the time they were first seen done) and makes
an onboarding partner active once every required step is done. Call it after any action that can
complete a step; a periodic job calls it too, as a safety net.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from accounts.models import ApiKey
from core.actors import Actor
from core.services.audit import audit_record, snapshot
from partners.enums import OnboardingStepKind, PartnerStatus
from partners.errors import PartnerError
from partners.models import OnboardingProgress, OnboardingStep, Partner
from partners.requirements import measure

# enablement registers how to tell that a partner completed a course (by its code).
CourseCheck = Callable[[Partner, str], bool]
_course_check: CourseCheck | None = None


def register_course_check(check: CourseCheck) -> None:
    global _course_check
    _course_check = check


@dataclass(frozen=True)
class ChecklistItem:
    step: OnboardingStep
    done: bool
    progress: OnboardingProgress | None


def _step_is_done(step: OnboardingStep, partner: Partner, agreement_accepted: bool) -> bool:
    kind = step.kind
    if kind == OnboardingStepKind.ACCEPT_AGREEMENT:
        return agreement_accepted
    if kind == OnboardingStepKind.BILLING_PROFILE:
        return partner.billing_profile_complete
    if kind == OnboardingStepKind.FIRST_CLIENT:
        return partner.clients.exists()
    if kind == OnboardingStepKind.API_KEY:
        return ApiKey.objects.filter(partner_id=partner.pk, revoked_at__isnull=True).exists()
    if kind == OnboardingStepKind.COMPLETE_COURSE:
        return _course_check is not None and _course_check(partner, step.course_code)
    return False  # custom steps are done only by a vendor's sign-off (a progress row)


def onboarding_checklist(partner: Partner) -> list[ChecklistItem]:
    steps = list(OnboardingStep.objects.filter(track_id=partner.track_id))
    progress = {p.step_id: p for p in OnboardingProgress.objects.filter(partner=partner)}
    accepted = measure([partner])[partner.pk].agreement_accepted
    items = []
    for step in steps:
        recorded = progress.get(step.pk)
        done = recorded is not None or _step_is_done(step, partner, accepted)
        items.append(ChecklistItem(step=step, done=done, progress=recorded))
    return items


def onboarding_refresh(*, partner: Partner, actor: Actor) -> bool:
    """Record newly done steps; activate the partner when all required steps are done.
    Returns True when this call activated the partner."""
    from partners.services.partners import partner_change_status

    with transaction.atomic():
        locked = Partner.objects.select_for_update().get(pk=partner.pk)
        items = onboarding_checklist(locked)
        now = timezone.now()
        for item in items:
            if item.done and item.progress is None:
                OnboardingProgress.objects.create(
                    partner=locked,
                    step=item.step,
                    completed_at=now,
                    completed_by_label=actor.label,
                )
        complete = all(item.done for item in items if item.step.required)
        if locked.status == PartnerStatus.ONBOARDING and complete:
            partner_change_status(
                partner=locked,
                to_status=PartnerStatus.ACTIVE,
                reason="All required onboarding steps are done",
                actor=actor,
            )
            return True
    return False


def onboarding_sign_off(
    *, partner: Partner, step: OnboardingStep, actor: Actor
) -> OnboardingProgress:
    """A vendor user confirms a custom step for a partner."""
    if step.track_id != partner.track_id:
        raise PartnerError("That step belongs to another track.")
    if step.kind != OnboardingStepKind.CUSTOM:
        raise PartnerError(
            "Only custom steps are signed off by hand; the others complete themselves."
        )
    with transaction.atomic():
        progress, created = OnboardingProgress.objects.get_or_create(
            partner=partner,
            step=step,
            defaults={"completed_at": timezone.now(), "completed_by_label": actor.label},
        )
        if not created:
            raise PartnerError(f"“{step.title}” is already signed off.")
        audit_record(
            actor=actor, action="onboarding.signed_off", instance=progress, after=snapshot(progress)
        )
        onboarding_refresh(partner=partner, actor=actor)
    return progress
