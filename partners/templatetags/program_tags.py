"""Template tags of the tier and agreement pages.

`partner_tier_panel_data` lets the tier panel be included on any console page that has a
`partner` in its context (the partner page is built elsewhere and only passes the partner);
`portal_tier_summary` feeds the tier card on the portal's home page.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import template

from partners.access import resolve_membership
from partners.evaluation import money as format_money
from partners.selectors_program import agreement_state, tier_history, tier_outlook
from partners.services.tiers import EVALUATED_STATUSES

register = template.Library()
PANEL_HISTORY = 20


@register.filter
def money(amount: Decimal | int | None, currency: str) -> str:
    """{{ tier.min_mrr|money:partner.currency }} → €1,250.00"""
    if amount is None or not currency:
        return ""
    return format_money(Decimal(amount), currency)


@register.simple_tag(takes_context=True)
def partner_tier_panel_data(context: template.Context, partner) -> dict[str, Any]:
    from partners.forms_program import TierPinForm
    from partners.views.console_program import can_edit_program

    request = context.get("request")
    user = getattr(request, "user", None)
    return {
        "outlook": tier_outlook(partner),
        "history": tier_history(partner, limit=PANEL_HISTORY),
        "agreement": agreement_state(partner),
        "evaluated_status": partner.status in EVALUATED_STATUSES,
        "can_edit": bool(user and can_edit_program(user)),
        "pin_form": TierPinForm(partner=partner, auto_id="tier_pin_%s"),
        "here": request.get_full_path() if request else "",
    }


@register.simple_tag(takes_context=True)
def portal_tier_summary(context: template.Context) -> dict[str, Any] | None:
    """The signed-in partner user's tier outlook; None for anyone else (e.g. vendor staff)."""
    request = context.get("request")
    if request is None:
        return None
    membership = resolve_membership(request.user)
    if membership is None:
        return None
    partner = membership.partner
    return {"partner": partner, "outlook": tier_outlook(partner)}
