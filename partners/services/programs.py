"""Writes to the program structure: programs and their tracks (tiers are in `tiers.py`)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_slug
from django.db import transaction

from core.actors import Actor
from core.services.audit import audit_record, audited_update, snapshot
from partners.errors import PartnerError
from partners.models import Program, Track

PROGRAM_FIELDS = ("name", "description")
TRACK_FIELDS = ("name", "slug", "description", "accepts_applications", "position")
MAX_POSITION = 32767  # PositiveSmallIntegerField


def _clean_text(value: Any, *, field: str, label: str, max_length: int, required: bool) -> str:
    text = str(value or "").strip()
    if required and not text:
        raise PartnerError(f"{label} is required.", field=field)
    if len(text) > max_length:
        raise PartnerError(f"{label} is at most {max_length} characters.", field=field)
    return text


def clean_program_fields(fields: dict[str, Any]) -> dict[str, Any]:
    cleaned = dict(fields)
    if "name" in cleaned:
        cleaned["name"] = _clean_text(
            cleaned["name"], field="name", label="A name", max_length=200, required=True
        )
    if "description" in cleaned:
        cleaned["description"] = _clean_text(
            cleaned["description"],
            field="description",
            label="The description",
            max_length=5000,
            required=False,
        )
    return cleaned


def clean_track_fields(fields: dict[str, Any]) -> dict[str, Any]:
    cleaned = clean_program_fields({k: v for k, v in fields.items() if k != "slug"})
    if "slug" in fields:
        slug = str(fields["slug"] or "").strip().lower()
        if not slug:
            raise PartnerError("A slug is required (it appears in links).", field="slug")
        if len(slug) > 60:
            raise PartnerError("A slug is at most 60 characters.", field="slug")
        try:
            validate_slug(slug)
        except ValidationError:
            raise PartnerError(
                "A slug has only letters, digits, hyphens and underscores.", field="slug"
            ) from None
        cleaned["slug"] = slug
    if "accepts_applications" in cleaned:
        cleaned["accepts_applications"] = bool(cleaned["accepts_applications"])
    if "position" in cleaned:
        try:
            position = int(cleaned["position"])
        except (TypeError, ValueError):
            raise PartnerError("The position is a whole number.", field="position") from None
        if not 0 <= position <= MAX_POSITION:
            raise PartnerError(f"The position is between 0 and {MAX_POSITION}.", field="position")
        cleaned["position"] = position
    return cleaned


def _check_slug_free(slug: str, exclude_pk: int | None = None) -> None:
    taken = Track.objects.filter(slug=slug)
    if exclude_pk is not None:
        taken = taken.exclude(pk=exclude_pk)
    if taken.exists():
        raise PartnerError(f"Another track already uses the slug “{slug}”.", field="slug")


def program_create(*, name: str, actor: Actor, description: str = "") -> Program:
    fields = clean_program_fields({"name": name, "description": description})
    with transaction.atomic():
        program = Program.objects.create(**fields)
        audit_record(
            actor=actor, action="program.created", instance=program, after=snapshot(program)
        )
    return program


def program_update(*, program: Program, actor: Actor, **changes: Any) -> Program:
    unknown = set(changes) - set(PROGRAM_FIELDS)
    if unknown:
        raise PartnerError(f"These fields cannot be changed here: {', '.join(sorted(unknown))}.")
    cleaned = clean_program_fields(changes)
    with transaction.atomic():
        locked = Program.objects.select_for_update().get(pk=program.pk)
        changed = {k: v for k, v in cleaned.items() if getattr(locked, k) != v}
        if changed:
            audited_update(locked, actor=actor, action="program.updated", changes=changed)
    return locked


def track_create(
    *,
    program: Program,
    name: str,
    slug: str,
    actor: Actor,
    description: str = "",
    accepts_applications: bool = True,
    position: int | None = None,
) -> Track:
    """A new track of `program`; without a position it goes after the program's last track."""
    fields = clean_track_fields(
        {
            "name": name,
            "slug": slug,
            "description": description,
            "accepts_applications": accepts_applications,
            **({"position": position} if position is not None else {}),
        }
    )
    with transaction.atomic():
        _check_slug_free(fields["slug"])
        if "position" not in fields:
            last = (
                Track.objects.filter(program=program)
                .order_by("-position")
                .values_list("position", flat=True)
                .first()
            )
            fields["position"] = min((last if last is not None else -1) + 1, MAX_POSITION)
        track = Track.objects.create(program=program, **fields)
        audit_record(actor=actor, action="track.created", instance=track, after=snapshot(track))
    return track


def track_update(*, track: Track, actor: Actor, **changes: Any) -> Track:
    unknown = set(changes) - set(TRACK_FIELDS)
    if unknown:
        raise PartnerError(f"These fields cannot be changed here: {', '.join(sorted(unknown))}.")
    cleaned = clean_track_fields(changes)
    with transaction.atomic():
        locked = Track.objects.select_for_update().get(pk=track.pk)
        if "slug" in cleaned:
            _check_slug_free(cleaned["slug"], exclude_pk=locked.pk)
        changed = {k: v for k, v in cleaned.items() if getattr(locked, k) != v}
        if changed:
            audited_update(locked, actor=actor, action="track.updated", changes=changed)
    return locked
