"""Portal pages of onboarding: the checklist with progress and where to do each step, and the
billing profile (owners and billing contacts edit it; the tax rate and currency are the
vendor's to set)."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse

from core.actors import Actor
from partners import selectors
from partners.access import portal_view
from partners.enums import OnboardingStepKind
from partners.errors import PartnerError
from partners.forms_partners import BillingProfileForm, add_service_error, country_name
from partners.permissions import Capability, role_can
from partners.services.onboarding import ChecklistItem, onboarding_refresh
from partners.services.partners import partner_update

# Who can do each kind of step in the portal.
STEP_CAPABILITY: dict[str, Capability] = {
    OnboardingStepKind.ACCEPT_AGREEMENT: Capability.SIGN_AGREEMENT,
    OnboardingStepKind.BILLING_PROFILE: Capability.MANAGE_BILLING,
    OnboardingStepKind.FIRST_CLIENT: Capability.MANAGE_CLIENTS,
    OnboardingStepKind.API_KEY: Capability.MANAGE_TEAM,
    OnboardingStepKind.COMPLETE_COURSE: Capability.VIEW,
}
ACTION_LABELS: dict[str, str] = {
    OnboardingStepKind.ACCEPT_AGREEMENT: "Review and accept the agreement",
    OnboardingStepKind.BILLING_PROFILE: "Complete the billing profile",
    OnboardingStepKind.FIRST_CLIENT: "Add your first client",
    OnboardingStepKind.API_KEY: "Create an API key",
    OnboardingStepKind.COMPLETE_COURSE: "Go to training",
}


@dataclass(frozen=True)
class PortalStep:
    item: ChecklistItem
    url: str  # where the partner does it; "" when that area is not available
    action_label: str
    can_act: bool  # the signed-in user's role may do it


def _url(name: str | None) -> str:
    if not name:
        return ""
    try:
        return reverse(name)
    except NoReverseMatch:
        return ""


@portal_view(Capability.VIEW)
def onboarding(request: HttpRequest) -> HttpResponse:
    partner = request.partner
    summary = selectors.onboarding_summary(partner)
    role = request.membership.role
    steps = []
    for item in summary.items:
        kind = item.step.kind
        capability = STEP_CAPABILITY.get(kind)
        steps.append(
            PortalStep(
                item=item,
                url=_url(selectors.STEP_PORTAL_URLS.get(kind)),
                action_label=ACTION_LABELS.get(kind, ""),
                can_act=capability is not None and role_can(role, capability),
            )
        )
    context = {
        "partner": partner,
        "summary": summary,
        "steps": steps,
        "custom_kind": OnboardingStepKind.CUSTOM,
    }
    return render(request, "partners/portal/onboarding/checklist.html", context)


@portal_view(Capability.MANAGE_BILLING)
def billing_profile(request: HttpRequest) -> HttpResponse:
    partner = request.partner
    initial = {
        "billing_email": partner.billing_email,
        "country": partner.country,
        "billing_address": partner.billing_address,
    }
    form = BillingProfileForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        actor = Actor.from_request(request)
        try:
            updated = partner_update(partner=partner, actor=actor, **form.cleaned_data)
        except PartnerError as exc:
            add_service_error(form, exc)
        else:
            activated = onboarding_refresh(partner=updated, actor=actor)
            note = " Onboarding is complete: your partnership is active." if activated else ""
            messages.success(request, f"Your billing profile is saved.{note}")
            return redirect("portal:billing_profile")
    context = {
        "partner": partner,
        "form": form,
        "country_name": country_name(partner.country),
        "read_only": partner.is_read_only,
    }
    return render(request, "partners/portal/onboarding/billing_profile.html", context)
