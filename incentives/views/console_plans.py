"""Console pages of commission plans and growth bonus rules (the Incentives area's home).

Finance and admins create plans; channel managers and analysts read them; other roles get 403.
Plans and rules are versioned by month and never edited: a change is a new one from a month that
is not finalized yet (`incentives.services.plans`)."""

from __future__ import annotations

from django.contrib import messages
from django.db.models import Exists, OuterRef
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render

from accounts.enums import VendorRole
from accounts.permissions import vendor_role_required
from core.actors import Actor
from partners.services.partners import today_for_vendor

from ..errors import IncentivesError
from ..forms_plans import CommissionPlanForm, GrowthBonusRuleForm
from ..models import CommissionPlan, GrowthBonusRule, LedgerEntry
from ..services.plans import commission_plan_create, first_open_month, growth_bonus_rule_create

EDITORS = (VendorRole.FINANCE,)
READERS = (VendorRole.FINANCE, VendorRole.CHANNEL_MANAGER, VendorRole.ANALYST)

plan_reader = vendor_role_required(
    *READERS, message="Commission plans are for finance, channel managers and analysts."
)
plan_editor = vendor_role_required(
    *EDITORS, message="Only finance and admins can create commission plans."
)


def _can_edit(user) -> bool:
    return user.has_vendor_role(*EDITORS)


def _with_status(items: list, month) -> list[dict]:
    """Each plan/rule with its status for `month`: in force, upcoming or past."""
    current = next((item for item in items if item.effective_from <= month), None)
    rows = []
    for item in items:  # newest first
        if item is current:
            status = "in_force"
        elif item.effective_from > month:
            status = "upcoming"
        else:
            status = "past"
        rows.append({"item": item, "status": status})
    return rows


@plan_reader
def plans(request: HttpRequest) -> HttpResponse:
    month = today_for_vendor().replace(day=1)
    accrued = LedgerEntry.objects.filter(kind="accrual", month__gte=OuterRef("effective_from"))
    items = list(
        CommissionPlan.objects.annotate(has_accrued=Exists(accrued))
        .prefetch_related("tier_rates__tier", "product_rates__product", "accelerators")
        .order_by("-effective_from")
    )
    rules = list(GrowthBonusRule.objects.prefetch_related("bands").order_by("-effective_from"))
    context = {
        "rows": _with_status(items, month),
        "rule_rows": _with_status(rules, month),
        "month": month,
        "can_edit": _can_edit(request.user),
    }
    return render(request, "incentives/console/plans/plans.html", context)


@plan_reader
def plan_detail(request: HttpRequest, pk: int) -> HttpResponse:
    plan = get_object_or_404(
        CommissionPlan.objects.prefetch_related(
            "tier_rates__tier__track", "product_rates__product", "accelerators"
        ),
        pk=pk,
    )
    later = (
        CommissionPlan.objects.filter(effective_from__gt=plan.effective_from)
        .order_by("effective_from")
        .first()
    )
    entries = LedgerEntry.objects.filter(kind="accrual", month__gte=plan.effective_from)
    if later is not None:
        entries = entries.filter(month__lt=later.effective_from)
    context = {
        "plan": plan,
        "until": later.effective_from if later else None,
        "has_accrued": entries.exists(),
        "can_edit": _can_edit(request.user),
    }
    return render(request, "incentives/console/plans/plan_detail.html", context)


@plan_editor
def plan_create(request: HttpRequest) -> HttpResponse:
    # An empty POST is a bound form too (errors shown), not a fresh page.
    data = request.POST if request.method == "POST" else None
    form = CommissionPlanForm(data, initial=_initial_month())
    if request.method == "POST" and form.is_valid():
        try:
            plan = commission_plan_create(
                actor=Actor.from_request(request), **form.service_arguments()
            )
        except IncentivesError as exc:
            form.add_service_error(exc)
        else:
            messages.success(
                request, f"The plan {plan.name} applies from {plan.effective_from:%B %Y}."
            )
            return redirect("console:incentives_plan", plan.pk)
    return render(
        request,
        "incentives/console/plans/plan_form.html",
        {"form": form, "earliest": first_open_month()},
    )


@plan_reader
def growth_rule_detail(request: HttpRequest, pk: int) -> HttpResponse:
    rule = get_object_or_404(GrowthBonusRule.objects.prefetch_related("bands"), pk=pk)
    return render(
        request,
        "incentives/console/plans/growth_rule_detail.html",
        {"rule": rule, "can_edit": _can_edit(request.user)},
    )


@plan_editor
def growth_rule_create(request: HttpRequest) -> HttpResponse:
    initial = {
        **_initial_month(),
        "currency": getattr(request.tenant, "default_currency", "") or "EUR",
    }
    data = request.POST if request.method == "POST" else None
    form = GrowthBonusRuleForm(data, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            rule = growth_bonus_rule_create(
                actor=Actor.from_request(request), **form.service_arguments()
            )
        except IncentivesError as exc:
            form.add_service_error(exc)
        else:
            messages.success(
                request, f"The rule {rule.name} applies from {rule.effective_from:%B %Y}."
            )
            return redirect("console:incentives_growth_rule", rule.pk)
    return render(
        request,
        "incentives/console/plans/growth_rule_form.html",
        {"form": form, "earliest": first_open_month()},
    )


def _initial_month() -> dict:
    earliest = first_open_month() or today_for_vendor().replace(day=1)
    return {"effective_from": earliest}
