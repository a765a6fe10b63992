"""Portal pages of the program: the partner's tier and what it lacks for the next one; the
agreement, its acceptance, and a printable copy of what was accepted.

Every view goes through `portal_view` (the one gate): it sets request.partner and refuses roles
without the capability; objects are looked up within request.partner (404 otherwise).
"""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from core.actors import Actor, client_ip
from partners.access import portal_view
from partners.errors import PartnerError
from partners.forms_program import AgreementAcceptForm, add_service_error
from partners.models import AgreementAcceptance, AgreementVersion
from partners.permissions import Capability, role_can
from partners.selectors_program import (
    acceptance_history,
    agreement_state,
    tier_history,
    tier_outlook,
)
from partners.services.agreements import agreement_accept, render_agreement


@portal_view(Capability.VIEW)
def tier(request: HttpRequest) -> HttpResponse:
    partner = request.partner
    context = {
        "partner": partner,
        "outlook": tier_outlook(partner),
        "history": tier_history(partner),
    }
    return render(request, "partners/portal/program/tier.html", context)


def _agreement_page(request: HttpRequest, form: AgreementAcceptForm | None = None) -> HttpResponse:
    partner = request.partner
    state = agreement_state(partner)
    can_sign = role_can(request.membership.role, Capability.SIGN_AGREEMENT)
    if form is None and state.current is not None and state.accepted is None:
        form = AgreementAcceptForm(
            initial={"version": state.current.pk, "signer_name": request.user.full_name}
        )
    context = {
        "partner": partner,
        "state": state,
        "html": render_agreement(state.current.body_markdown) if state.current else "",
        "can_sign": can_sign and not partner.is_read_only,
        "form": form,
        "acceptances": acceptance_history(partner),
    }
    return render(request, "partners/portal/program/agreement.html", context)


@portal_view(Capability.VIEW)
def agreement(request: HttpRequest) -> HttpResponse:
    return _agreement_page(request)


@require_POST
@portal_view(Capability.SIGN_AGREEMENT)
def agreement_accept_view(request: HttpRequest) -> HttpResponse:
    partner = request.partner
    form = AgreementAcceptForm(request.POST)
    if form.is_valid():
        version = AgreementVersion.objects.filter(
            pk=form.cleaned_data["version"], track_id=partner.track_id
        ).first()
        if version is None:
            messages.error(request, "This agreement is not one of your program's agreements.")
            return redirect("portal:agreement")
        try:
            agreement_accept(
                partner=partner,
                agreement=version,
                user=request.user,
                signer_name=form.cleaned_data["signer_name"],
                signer_title=form.cleaned_data["signer_title"],
                ip=client_ip(request),
                actor=Actor.from_request(request),
            )
        except PartnerError as exc:
            if exc.field is None:
                # Accepted already, or replaced by a newer version meanwhile: the page shows
                # the current state, with the reason on top.
                messages.error(request, str(exc))
                return redirect("portal:agreement")
            add_service_error(form, exc)
        else:
            messages.success(
                request,
                f"Thank you: {partner.name} accepted version {version.version} of the "
                "agreement. You can print a copy below.",
            )
            return redirect("portal:agreement")
    return _agreement_page(request, form)


@portal_view(Capability.VIEW)
def agreement_print(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    """What the partner accepted, for printing (or saving as PDF from the browser's print
    dialog). Without a pk: its latest acceptance."""
    acceptances = AgreementAcceptance.objects.filter(partner=request.partner).select_related(
        "agreement", "agreement__track", "partner"
    )
    if pk is None:
        acceptance = acceptances.order_by("-accepted_at", "-id").first()
        if acceptance is None:
            messages.info(request, f"{request.partner.name} has not accepted an agreement yet.")
            return redirect("portal:agreement")
    else:
        acceptance = get_object_or_404(acceptances, pk=pk)
    context = {
        "acceptance": acceptance,
        "version": acceptance.agreement,
        "partner": acceptance.partner,
        "html": render_agreement(acceptance.agreement.body_markdown),
    }
    return render(request, "partners/portal/program/agreement_print.html", context)
