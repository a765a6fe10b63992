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
from core.services.audit import audit_record, audited_update, snapshot
from partners.enums import OnboardingStepKind, PartnerStatus
from partners.errors import PartnerError
from partners.models import OnboardingProgress, OnboardingStep, Partner, Track
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


def onboarding_refresh_all(*, actor: Actor) -> int:
    """The periodic safety net: refresh every onboarding partner of the current vendor (a step
    done outside the flows that refresh, or a step removed from the checklist). Returns how
    many partners became active. Running it twice changes nothing the second time."""
    activated = 0
    ids = list(
        Partner.objects.filter(status=PartnerStatus.ONBOARDING)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    for pk in ids:
        partner = Partner.objects.filter(pk=pk, status=PartnerStatus.ONBOARDING).first()
        if partner is not None and onboarding_refresh(partner=partner, actor=actor):
            activated += 1
    return activated


# --- the checklist's configuration (console, per track) -------------------------------------

# Steps the system completes from facts: one of each per track is enough.
_ONE_PER_TRACK = {
    OnboardingStepKind.ACCEPT_AGREEMENT,
    OnboardingStepKind.BILLING_PROFILE,
    OnboardingStepKind.FIRST_CLIENT,
    OnboardingStepKind.API_KEY,
}
_STEP_FIELDS = ["track_id", "kind", "title", "description", "required", "position", "course_code"]


def _clean_step(
    *,
    track: Track,
    kind: str,
    title: str,
    description: str,
    course_code: str,
    exclude_pk: int | None = None,
) -> dict[str, str]:
    if kind not in OnboardingStepKind.values:
        raise PartnerError("Choose one of the step kinds.", field="kind")
    title = (title or "").strip()
    if not title:
        raise PartnerError("Give the step a title.", field="title")
    if len(title) > 200:
        raise PartnerError("Titles are at most 200 characters.", field="title")
    course_code = (course_code or "").strip()
    if kind == OnboardingStepKind.COMPLETE_COURSE:
        if not course_code:
            raise PartnerError("Give the code of the course to complete.", field="course_code")
        if len(course_code) > 60:
            raise PartnerError("Course codes are at most 60 characters.", field="course_code")
    else:
        course_code = ""  # only course steps have one
    others = OnboardingStep.objects.filter(track=track)
    if exclude_pk is not None:
        others = others.exclude(pk=exclude_pk)
    if kind in _ONE_PER_TRACK and others.filter(kind=kind).exists():
        label = OnboardingStepKind(kind).label.lower()
        raise PartnerError(f"The checklist already has a step to {label}.", field="kind")
    if (
        kind == OnboardingStepKind.COMPLETE_COURSE
        and others.filter(kind=kind, course_code=course_code).exists()
    ):
        raise PartnerError(
            f"The checklist already asks for the course {course_code}.", field="course_code"
        )
    return {
        "kind": kind,
        "title": title,
        "description": (description or "").strip(),
        "course_code": course_code,
    }


def _refresh_later() -> None:
    """After a change that can complete partners' checklists (a step removed or made
    optional), refresh the vendor's onboarding partners in the background."""
    from partners.tasks_onboarding import refresh_onboarding

    # robust: the change is saved either way, and the daily run catches up if the broker is down.
    transaction.on_commit(refresh_onboarding.delay, robust=True)


def onboarding_step_create(
    *,
    track: Track,
    kind: str,
    title: str,
    actor: Actor,
    description: str = "",
    required: bool = True,
    course_code: str = "",
) -> OnboardingStep:
    with transaction.atomic():
        # The track's row serialises concurrent edits of its checklist (positions, one-per-kind).
        Track.objects.select_for_update().get(pk=track.pk)
        fields = _clean_step(
            track=track, kind=kind, title=title, description=description, course_code=course_code
        )
        last = (
            OnboardingStep.objects.filter(track=track)
            .order_by("-position")
            .values_list("position", flat=True)
            .first()
        )
        step = OnboardingStep.objects.create(
            track=track,
            required=bool(required),
            position=0 if last is None else last + 1,
            **fields,
        )
        audit_record(
            actor=actor,
            action="onboarding_step.created",
            instance=step,
            after=snapshot(step, _STEP_FIELDS),
        )
    return step


def onboarding_step_update(
    *,
    step: OnboardingStep,
    actor: Actor,
    title: str,
    description: str = "",
    required: bool = True,
    course_code: str = "",
) -> OnboardingStep:
    """Edit a step. Its kind stays (progress recorded for it would no longer mean anything):
    delete it and add another instead."""
    with transaction.atomic():
        locked = OnboardingStep.objects.select_for_update().select_related("track").get(pk=step.pk)
        fields = _clean_step(
            track=locked.track,
            kind=locked.kind,
            title=title,
            description=description,
            course_code=course_code,
            exclude_pk=locked.pk,
        )
        fields["required"] = bool(required)
        changed = {k: v for k, v in fields.items() if getattr(locked, k) != v}
        if changed:
            audited_update(locked, actor=actor, action="onboarding_step.updated", changes=changed)
            if changed.get("required") is False:
                _refresh_later()
    return locked


def onboarding_step_delete(*, step: OnboardingStep, actor: Actor) -> None:
    """Remove a step (and the progress partners made on it)."""
    with transaction.atomic():
        locked = OnboardingStep.objects.select_for_update().get(pk=step.pk)
        audit_record(
            actor=actor,
            action="onboarding_step.deleted",
            instance=locked,
            before=snapshot(locked, _STEP_FIELDS),
        )
        track_id = locked.track_id
        locked.delete()
        _renumber(track_id)
        _refresh_later()


def _renumber(track_id: int) -> None:
    for index, step in enumerate(OnboardingStep.objects.filter(track_id=track_id)):
        if step.position != index:
            step.position = index
            step.save(update_fields=["position"])


def onboarding_step_move(*, step: OnboardingStep, offset: int, actor: Actor) -> OnboardingStep:
    """Move a step up (offset -1) or down (+1) in its checklist."""
    if offset not in (-1, 1):
        raise PartnerError("A step moves one place up or down.")
    with transaction.atomic():
        Track.objects.select_for_update().get(pk=step.track_id)
        _renumber(step.track_id)
        steps = list(OnboardingStep.objects.filter(track_id=step.track_id))
        index = next(i for i, s in enumerate(steps) if s.pk == step.pk)
        target = index + offset
        if not 0 <= target < len(steps):
            raise PartnerError(
                f"“{steps[index].title}” is already {'first' if offset < 0 else 'last'}."
            )
        moving, other = steps[index], steps[target]
        before = moving.position
        moving.position, other.position = other.position, moving.position
        moving.save(update_fields=["position"])
        other.save(update_fields=["position"])
        audit_record(
            actor=actor,
            action="onboarding_step.moved",
            instance=moving,
            before={"position": before},
            after={"position": moving.position},
        )
    return moving
