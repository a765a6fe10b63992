"""Console pages of the program structure (programs, tracks, tiers) and of partners' tiers.

Channel managers and admins change things; every other console role reads; partner users get
403. Views validate a form and call a service; a service's refusal is shown next to its field.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from accounts.enums import VendorRole
from core.actors import Actor
from partners.enums import PartnerStatus
from partners.errors import PartnerError
from partners.forms_program import (
    ProgramForm,
    TierForm,
    TierPinForm,
    TrackForm,
    add_service_error,
)
from partners.models import Partner, Program, Tier, Track
from partners.selectors_program import program_overview, track_tiers
from partners.services import programs as program_services
from partners.services import tiers as tier_services
from partners.tasks import evaluate_tiers

# Above this many partners "Evaluate all tiers now" runs in the background, not in the request.
EVALUATE_INLINE_LIMIT = 1000


def can_edit_program(user) -> bool:
    return user.is_authenticated and user.has_vendor_role(VendorRole.CHANNEL_MANAGER)


def console_reader(view: Callable) -> Callable:
    """Any console user may read; partner users get 403."""

    @wraps(view)
    @login_required
    def wrapped(request, *args, **kwargs):
        if not request.user.is_console_user:
            raise PermissionDenied("This page is for vendor staff.")
        return view(request, *args, **kwargs)

    return wrapped


def program_editor(view: Callable) -> Callable:
    """Channel managers and admins only."""

    @wraps(view)
    @login_required
    def wrapped(request, *args, **kwargs):
        if not can_edit_program(request.user):
            raise PermissionDenied("Only channel managers and admins can change the program.")
        return view(request, *args, **kwargs)

    return wrapped


def _fields(form) -> dict:
    return dict(form.cleaned_data)


# ---- programs and tracks -------------------------------------------------------------------


@console_reader
def program(request: HttpRequest) -> HttpResponse:
    context = {
        "programs": program_overview(),
        "can_edit": can_edit_program(request.user),
    }
    return render(request, "partners/console/program/program.html", context)


@program_editor
def program_create(request: HttpRequest) -> HttpResponse:
    form = ProgramForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            created = program_services.program_create(
                actor=Actor.from_request(request), **_fields(form)
            )
        except PartnerError as exc:
            add_service_error(form, exc)
        else:
            messages.success(request, f"The program {created.name} is created.")
            return redirect("console:program")
    return render(
        request, "partners/console/program/program_form.html", {"form": form, "program": None}
    )


@program_editor
def program_edit(request: HttpRequest, pk: int) -> HttpResponse:
    target = get_object_or_404(Program, pk=pk)
    initial = {"name": target.name, "description": target.description}
    form = ProgramForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            program_services.program_update(
                program=target, actor=Actor.from_request(request), **_fields(form)
            )
        except PartnerError as exc:
            add_service_error(form, exc)
        else:
            messages.success(request, f"The program {form.cleaned_data['name']} is saved.")
            return redirect("console:program")
    return render(
        request, "partners/console/program/program_form.html", {"form": form, "program": target}
    )


@program_editor
def track_create(request: HttpRequest, program_pk: int) -> HttpResponse:
    parent = get_object_or_404(Program, pk=program_pk)
    form = TrackForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        fields = _fields(form)
        try:
            track = program_services.track_create(
                program=parent, actor=Actor.from_request(request), **fields
            )
        except PartnerError as exc:
            add_service_error(form, exc)
        else:
            messages.success(request, f"The track {track.name} is created. Now add its tiers.")
            return redirect("console:program_track", pk=track.pk)
    context = {"form": form, "program": parent, "track": None}
    return render(request, "partners/console/program/track_form.html", context)


@console_reader
def track_detail(request: HttpRequest, pk: int) -> HttpResponse:
    track = get_object_or_404(Track.objects.select_related("program"), pk=pk)
    context = {
        "track": track,
        "tiers": track_tiers(track),
        "can_edit": can_edit_program(request.user),
    }
    return render(request, "partners/console/program/track_detail.html", context)


@program_editor
def track_edit(request: HttpRequest, pk: int) -> HttpResponse:
    track = get_object_or_404(Track.objects.select_related("program"), pk=pk)
    initial = {
        "name": track.name,
        "slug": track.slug,
        "description": track.description,
        "accepts_applications": track.accepts_applications,
        "position": track.position,
    }
    form = TrackForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        fields = _fields(form)
        if fields.get("position") is None:
            fields.pop("position")
        try:
            program_services.track_update(track=track, actor=Actor.from_request(request), **fields)
        except PartnerError as exc:
            add_service_error(form, exc)
        else:
            messages.success(request, f"The track {fields['name']} is saved.")
            return redirect("console:program_track", pk=track.pk)
    context = {"form": form, "program": track.program, "track": track}
    return render(request, "partners/console/program/track_form.html", context)


# ---- tiers ---------------------------------------------------------------------------------


@program_editor
def tier_create(request: HttpRequest, pk: int) -> HttpResponse:
    track = get_object_or_404(Track.objects.select_related("program"), pk=pk)
    form = TierForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            tier = tier_services.tier_create(
                track=track, actor=Actor.from_request(request), **_fields(form)
            )
        except PartnerError as exc:
            add_service_error(form, exc)
        else:
            messages.success(request, f"The tier {tier.name} is added at rank {tier.rank}.")
            return redirect("console:program_track", pk=track.pk)
    context = {"form": form, "track": track, "tier": None}
    return render(request, "partners/console/program/tier_form.html", context)


@program_editor
def tier_edit(request: HttpRequest, pk: int) -> HttpResponse:
    tier = get_object_or_404(Tier.objects.select_related("track", "track__program"), pk=pk)
    initial = {name: getattr(tier, name) for name in tier_services.TIER_FIELDS}
    form = TierForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            tier_services.tier_update(tier=tier, actor=Actor.from_request(request), **_fields(form))
        except PartnerError as exc:
            add_service_error(form, exc)
        else:
            messages.success(request, f"The tier {form.cleaned_data['name']} is saved.")
            return redirect("console:program_track", pk=tier.track_id)
    context = {"form": form, "track": tier.track, "tier": tier}
    return render(request, "partners/console/program/tier_form.html", context)


@require_POST
@program_editor
def tier_move(request: HttpRequest, pk: int) -> HttpResponse:
    tier = get_object_or_404(Tier, pk=pk)
    try:
        to_rank = int(request.POST.get("to_rank", ""))
    except ValueError:
        messages.error(request, "Choose where to move the tier.")
        return redirect("console:program_track", pk=tier.track_id)
    try:
        moved = tier_services.tier_move(
            tier=tier, to_rank=to_rank, actor=Actor.from_request(request)
        )
    except PartnerError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"{moved.name} is now rank {moved.rank}.")
    return redirect("console:program_track", pk=tier.track_id)


@program_editor
def tier_delete(request: HttpRequest, pk: int) -> HttpResponse:
    tier = get_object_or_404(Tier.objects.select_related("track"), pk=pk)
    if request.method == "POST":
        try:
            tier_services.tier_delete(tier=tier, actor=Actor.from_request(request))
        except PartnerError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, f"The tier {tier.name} is deleted.")
        return redirect("console:program_track", pk=tier.track_id)
    in_use = Partner.objects.filter(tier=tier).count()
    context = {"tier": tier, "track": tier.track, "in_use": in_use}
    return render(request, "partners/console/program/tier_delete.html", context)


# ---- evaluation ----------------------------------------------------------------------------


@require_POST
@program_editor
def evaluate_all(request: HttpRequest) -> HttpResponse:
    eligible = Partner.objects.filter(
        status__in=tier_services.EVALUATED_STATUSES, tier_pinned=False
    ).count()
    if eligible > EVALUATE_INLINE_LIMIT:
        evaluate_tiers.delay()
        messages.success(
            request,
            f"Evaluating {eligible} partners in the background; changes appear in their tier "
            "history within a few minutes.",
        )
        return redirect("console:program")
    run = tier_services.tiers_evaluate_all(actor=Actor.from_request(request))
    partners = "1 partner" if run.evaluated == 1 else f"{run.evaluated} partners"
    changed = "1 changed tier" if run.changed == 1 else f"{run.changed} changed tier"
    messages.success(request, f"Evaluated {partners}: {changed}.")
    return redirect("console:program")


def _partner(pk: int) -> Partner:
    return get_object_or_404(Partner.objects.select_related("track", "tier"), pk=pk)


def _back_to_partner(request: HttpRequest, partner: Partner) -> HttpResponse:
    """Back to where the button was (the partner's page, which includes the tier panel)."""
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return redirect(target)
    try:
        return redirect(reverse("console:partner_detail", kwargs={"pk": partner.pk}))
    except NoReverseMatch:
        return redirect("console:partner_tier", pk=partner.pk)


@console_reader
def partner_tier(request: HttpRequest, pk: int) -> HttpResponse:
    """The tier panel on a page of its own (the partner page includes the same panel)."""
    partner = _partner(pk)
    return render(request, "partners/console/program/partner_tier.html", {"partner": partner})


@require_POST
@program_editor
def partner_tier_evaluate(request: HttpRequest, pk: int) -> HttpResponse:
    partner = _partner(pk)
    if partner.tier_pinned:
        messages.error(request, f"{partner.name}'s tier is pinned: unpin it to evaluate it.")
    elif partner.status not in tier_services.EVALUATED_STATUSES:
        status = PartnerStatus(partner.status).label.lower()
        messages.error(request, f"{partner.name} is {status}: its tier is not evaluated.")
    else:
        change = tier_services.tier_evaluate(partner=partner, actor=Actor.from_request(request))
        if change is None:
            tier = partner.tier.name if partner.tier else "no tier"
            messages.success(request, f"{partner.name} stays on {tier}.")
        else:
            tier = change.to_tier.name if change.to_tier else "no tier"
            messages.success(request, f"{partner.name} moves to {tier}. {change.reason}")
    return _back_to_partner(request, partner)


@program_editor
def partner_tier_pin(request: HttpRequest, pk: int) -> HttpResponse:
    partner = _partner(pk)
    form = TierPinForm(request.POST or None, partner=partner)
    if request.method == "POST" and form.is_valid():
        try:
            tier_services.tier_pin(
                partner=partner,
                tier=form.cleaned_data["tier"],
                reason=form.cleaned_data["reason"],
                actor=Actor.from_request(request),
            )
        except PartnerError as exc:
            add_service_error(form, exc)
        else:
            tier = form.cleaned_data["tier"].name
            messages.success(request, f"{partner.name} is pinned at {tier}.")
            return _back_to_partner(request, partner)
    context = {"partner": partner, "form": form, "next": request.POST.get("next", "")}
    return render(request, "partners/console/program/partner_tier_pin.html", context)


@require_POST
@program_editor
def partner_tier_unpin(request: HttpRequest, pk: int) -> HttpResponse:
    partner = _partner(pk)
    try:
        tier_services.tier_unpin(partner=partner, actor=Actor.from_request(request))
    except PartnerError as exc:
        messages.error(request, str(exc))
    else:
        partner.refresh_from_db()
        tier = partner.tier.name if partner.tier else "no tier"
        messages.success(
            request, f"{partner.name}'s tier is no longer pinned; evaluation puts it on {tier}."
        )
    return _back_to_partner(request, partner)
