"""Console pages for partners: the list, a partner's page, signing a partner directly, profile
edits, the lifecycle (suspend / reactivate / terminate), custom-step sign-off, and the onboarding
checklist of a track.

Every console user reads; channel managers and admins act (`partner_manager_required`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template import TemplateDoesNotExist
from django.template.loader import select_template
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_POST

from accounts.enums import VendorRole
from core.actors import Actor
from partners import selectors
from partners.enums import OnboardingStepKind, PartnerStatus
from partners.errors import PartnerError
from partners.forms_partners import (
    OnboardingStepForm,
    PartnerCreateForm,
    PartnerEditForm,
    PartnerFilter,
    PartnerLifecycleForm,
    add_service_error,
    country_name,
)
from partners.models import OnboardingStep, Partner, Track
from partners.services.applications import partner_sign_directly, vendor_default_currency
from partners.services.onboarding import (
    onboarding_sign_off,
    onboarding_step_create,
    onboarding_step_delete,
    onboarding_step_move,
    onboarding_step_update,
)
from partners.services.partners import partner_change_status, partner_update, today_for_vendor

logger = logging.getLogger(__name__)

PAGE_SIZE = 50
TIER_PANEL = "partners/console/program/_partner_tier_panel.html"


# --- who may do what -------------------------------------------------------------------------


def can_manage_partners(user) -> bool:
    return user.is_console_user and user.has_vendor_role(VendorRole.CHANNEL_MANAGER)


def console_reader_required(view: Callable) -> Callable:
    """Any signed-in console user may read; partner users get 403."""

    @wraps(view)
    @login_required
    def wrapped(request: HttpRequest, *args, **kwargs):
        if not request.user.is_console_user:
            raise PermissionDenied("This page is for the vendor's staff.")
        request.can_manage_partners = can_manage_partners(request.user)
        return view(request, *args, **kwargs)

    return wrapped


def partner_manager_required(view: Callable) -> Callable:
    """Channel managers and admins only (any method)."""

    @wraps(view)
    @login_required
    def wrapped(request: HttpRequest, *args, **kwargs):
        if not can_manage_partners(request.user):
            raise PermissionDenied("Only channel managers and admins can do this.")
        request.can_manage_partners = True
        return view(request, *args, **kwargs)

    return wrapped


def _service_failed(form, exc: Exception) -> None:
    if isinstance(exc, PartnerError):
        add_service_error(form, exc)
    else:  # OSError from the mail server: the service rolled everything back
        logger.exception("Email could not be sent")
        form.add_error(
            None,
            "The email could not be sent, so nothing was saved. Try again in a few minutes.",
        )


# --- the list --------------------------------------------------------------------------------


@console_reader_required
def partners(request: HttpRequest) -> HttpResponse:
    filterset = PartnerFilter(
        request.GET or None,
        queryset=selectors.partner_list_queryset(),
        countries=selectors.partner_countries(),
    )
    page = Paginator(filterset.qs, PAGE_SIZE).get_page(request.GET.get("page"))
    rows = list(page.object_list)
    counts = selectors.client_counts([p.pk for p in rows])
    for partner in rows:
        partner.client_count = counts.get(partner.pk, 0)
        partner.country_name = country_name(partner.country)
    context = {
        "filter": filterset,
        "form": filterset.form,
        "page_obj": page,
        "partners": rows,
        "is_filtered": any(
            value
            for name, value in request.GET.items()
            if name in {"q", "status", "track", "tier", "country"}
        ),
    }
    htmx = getattr(request, "htmx", None)
    partial = bool(htmx) and not htmx.history_restore_request
    template = (
        "partners/console/partners/_results.html"
        if partial
        else ("partners/console/partners/list.html")
    )
    response = render(request, template, context)
    patch_vary_headers(response, ["HX-Request"])
    return response


# --- signing a partner directly, editing its profile -----------------------------------------


@partner_manager_required
def partner_create(request: HttpRequest) -> HttpResponse:
    form = PartnerCreateForm(request.POST or None, initial={"currency": vendor_default_currency()})
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            partner = partner_sign_directly(
                name=data["name"],
                track=data["track"],
                tier=data["tier"],
                currency=data["currency"],
                country=data["country"],
                billing_email=data["billing_email"],
                tax_rate=data["tax_rate"],
                external_id=data["external_id"],
                billing_address=data["billing_address"],
                owner_email=data["owner_email"],
                actor=Actor.from_request(request),
                request_host=request.get_host(),
                scheme=request.scheme,
            )
        except (PartnerError, OSError) as exc:
            if isinstance(exc, PartnerError) and exc.field == "email":
                exc.field = "owner_email"
            _service_failed(form, exc)
        else:
            invited = f" and invited {data['owner_email']}" if data["owner_email"] else ""
            messages.success(request, f"{partner.name} is signed{invited}.")
            return redirect("console:partner_detail", pk=partner.pk)
    return render(request, "partners/console/partners/create.html", {"form": form})


@partner_manager_required
def partner_edit(request: HttpRequest, pk: int) -> HttpResponse:
    partner = get_object_or_404(Partner, pk=pk)
    fields = ["name", "external_id", "country", "currency", "billing_email", "tax_rate"]
    initial = {name: getattr(partner, name) for name in [*fields, "billing_address"]}
    form = PartnerEditForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            partner_update(partner=partner, actor=Actor.from_request(request), **form.cleaned_data)
        except PartnerError as exc:
            add_service_error(form, exc)
        else:
            messages.success(request, f"{partner.name}'s profile is saved.")
            return redirect("console:partner_detail", pk=partner.pk)
    return render(
        request, "partners/console/partners/edit.html", {"form": form, "partner": partner}
    )


# --- a partner's page ------------------------------------------------------------------------


def _tier_panel_available() -> bool:
    """The program area adds a tier panel to this page when it exists."""
    try:
        select_template([TIER_PANEL])
    except TemplateDoesNotExist:
        return False
    return True


LIFECYCLE_ACTIONS = {
    # action: (label, statuses it applies to)
    "suspend": ("Suspend", {PartnerStatus.ONBOARDING, PartnerStatus.ACTIVE}),
    "reactivate": ("Reactivate", {PartnerStatus.SUSPENDED}),
    "terminate": (
        "Terminate",
        {
            PartnerStatus.APPLIED,
            PartnerStatus.ONBOARDING,
            PartnerStatus.ACTIVE,
            PartnerStatus.SUSPENDED,
        },
    ),
}


@console_reader_required
def partner_detail(request: HttpRequest, pk: int) -> HttpResponse:
    partner = get_object_or_404(
        Partner.objects.select_related("track", "track__program", "tier", "application"), pk=pk
    )
    clients, client_count = selectors.partner_clients_preview(partner)
    context = {
        "partner": partner,
        "country_name": country_name(partner.country),
        "memberships": selectors.partner_memberships(partner),
        "invitations": selectors.partner_open_invitations(partner),
        "clients": clients,
        "client_count": client_count,
        "onboarding": selectors.onboarding_summary(partner),
        "agreement": selectors.agreement_status(partner),
        "status_history": selectors.partner_status_history(partner),
        "tier_history": selectors.partner_tier_history(partner),
        "audit_trail": selectors.partner_audit_trail(partner),
        "lifecycle_actions": [
            (action, label)
            for action, (label, statuses) in LIFECYCLE_ACTIONS.items()
            if partner.status in statuses
        ],
        "show_tier_panel": _tier_panel_available(),
        "can_manage": request.can_manage_partners,
        "custom_kind": OnboardingStepKind.CUSTOM,
    }
    return render(request, "partners/console/partners/detail.html", context)


# --- lifecycle -------------------------------------------------------------------------------


def _reactivation_target(partner: Partner) -> str:
    """Back to active when the checklist is done, else back to onboarding."""
    return (
        PartnerStatus.ACTIVE
        if selectors.onboarding_summary(partner).complete
        else PartnerStatus.ONBOARDING
    )


@partner_manager_required
def partner_lifecycle(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    if action not in LIFECYCLE_ACTIONS:
        raise Http404
    partner = get_object_or_404(Partner.objects.select_related("track"), pk=pk)
    label, statuses = LIFECYCLE_ACTIONS[action]
    form = PartnerLifecycleForm(
        request.POST or None, action=action, today=today_for_vendor(), partner=partner
    )
    target = {
        "suspend": PartnerStatus.SUSPENDED,
        "terminate": PartnerStatus.TERMINATED,
        "reactivate": _reactivation_target(partner),
    }[action]
    if request.method == "POST" and form.is_valid():
        try:
            partner_change_status(
                partner=partner,
                to_status=target,
                reason=form.cleaned_data["reason"] or "Reactivated",
                effective_on=form.cleaned_data["effective_on"],
                actor=Actor.from_request(request),
            )
        except PartnerError as exc:
            add_service_error(form, exc)
        else:
            done = {
                "suspend": "is suspended: its portal is read-only",
                "terminate": "is terminated",
                "reactivate": f"is {PartnerStatus(target).label.lower()} again",
            }[action]
            messages.success(request, f"{partner.name} {done}.")
            return redirect("console:partner_detail", pk=partner.pk)
    context = {
        "partner": partner,
        "form": form,
        "action": action,
        "label": label,
        "allowed": partner.status in statuses,
        "target_label": PartnerStatus(target).label,
    }
    return render(request, "partners/console/partners/lifecycle.html", context)


@require_POST
@partner_manager_required
def partner_onboarding_sign_off(request: HttpRequest, pk: int, step_pk: int) -> HttpResponse:
    partner = get_object_or_404(Partner, pk=pk)
    step = get_object_or_404(OnboardingStep, pk=step_pk, track_id=partner.track_id)
    if partner.is_read_only:
        messages.error(request, f"{partner.name} is {partner.get_status_display().lower()}.")
        return redirect("console:partner_detail", pk=partner.pk)
    try:
        onboarding_sign_off(partner=partner, step=step, actor=Actor.from_request(request))
    except PartnerError as exc:
        messages.error(request, str(exc))
    else:
        partner.refresh_from_db(fields=["status"])
        activated = (
            " All required steps are done: the partner is active."
            if (partner.status == PartnerStatus.ACTIVE)
            else ""
        )
        messages.success(request, f"“{step.title}” is signed off.{activated}")
    return redirect("console:partner_detail", pk=partner.pk)


# --- the onboarding checklist of a track -----------------------------------------------------


def _step_values(form: OnboardingStepForm) -> dict:
    data = form.cleaned_data
    return {
        "title": data["title"],
        "description": data["description"],
        "required": data["required"],
        "course_code": data["course_code"],
    }


@console_reader_required
def onboarding_steps(request: HttpRequest, pk: int) -> HttpResponse:
    track = get_object_or_404(Track.objects.select_related("program"), pk=pk)
    form = OnboardingStepForm(request.POST or None, initial={"required": True})
    if request.method == "POST":
        if not request.can_manage_partners:
            raise PermissionDenied("Only channel managers and admins can change the checklist.")
        if form.is_valid():
            try:
                step = onboarding_step_create(
                    track=track,
                    kind=form.cleaned_data["kind"],
                    actor=Actor.from_request(request),
                    **_step_values(form),
                )
            except PartnerError as exc:
                add_service_error(form, exc)
            else:
                messages.success(request, f"“{step.title}” is added to the checklist.")
                return redirect("console:onboarding_steps", pk=track.pk)
    context = {
        "track": track,
        "steps": selectors.track_steps_overview(track),
        "partner_count": track.partners.filter(status=PartnerStatus.ONBOARDING).count(),
        "form": form,
        "can_manage": request.can_manage_partners,
    }
    return render(request, "partners/console/partners/onboarding_steps.html", context)


@partner_manager_required
def onboarding_step_edit(request: HttpRequest, pk: int) -> HttpResponse:
    step = get_object_or_404(OnboardingStep.objects.select_related("track"), pk=pk)
    initial = {
        "kind": step.kind,
        "title": step.title,
        "description": step.description,
        "required": step.required,
        "course_code": step.course_code,
    }
    form = OnboardingStepForm(request.POST or None, initial=initial, editing=True)
    if request.method == "POST" and form.is_valid():
        try:
            onboarding_step_update(
                step=step, actor=Actor.from_request(request), **_step_values(form)
            )
        except PartnerError as exc:
            add_service_error(form, exc)
        else:
            messages.success(request, f"“{form.cleaned_data['title']}” is saved.")
            return redirect("console:onboarding_steps", pk=step.track_id)
    return render(
        request, "partners/console/partners/onboarding_step_edit.html", {"form": form, "step": step}
    )


@partner_manager_required
def onboarding_step_delete_view(request: HttpRequest, pk: int) -> HttpResponse:
    step = get_object_or_404(OnboardingStep.objects.select_related("track"), pk=pk)
    if request.method == "POST":
        onboarding_step_delete(step=step, actor=Actor.from_request(request))
        messages.success(request, f"“{step.title}” is removed from the checklist.")
        return redirect("console:onboarding_steps", pk=step.track_id)
    done_count = step.progress.count()
    return render(
        request,
        "partners/console/partners/onboarding_step_delete.html",
        {"step": step, "done_count": done_count},
    )


@require_POST
@partner_manager_required
def onboarding_step_move_view(request: HttpRequest, pk: int, direction: str) -> HttpResponse:
    step = get_object_or_404(OnboardingStep, pk=pk)
    offset = {"up": -1, "down": 1}.get(direction)
    if offset is None:
        raise Http404
    try:
        onboarding_step_move(step=step, offset=offset, actor=Actor.from_request(request))
    except PartnerError as exc:
        messages.error(request, str(exc))
    return redirect("console:onboarding_steps", pk=step.track_id)
