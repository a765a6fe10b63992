"""Reads of the billing catalog."""

from __future__ import annotations

import datetime

from django.db.models import Prefetch, QuerySet

from billing.models import Charge, ChargeTier, PricePlan, PricePlanVersion


def charges_prefetch(lookup: str = "charges") -> Prefetch:
    """A version's charges in order, with their meters and tiers, in two queries."""
    return Prefetch(
        lookup,
        queryset=Charge.objects.select_related("meter").prefetch_related(
            Prefetch("tiers", queryset=ChargeTier.objects.order_by("position"))
        ),
    )


def price_plan_version_for(plan: PricePlan, month: datetime.date) -> PricePlanVersion | None:
    """The version that prices `month` (any day of it): the latest one whose first month is
    not after it. None when the plan only starts later."""
    return (
        PricePlanVersion.objects.filter(plan=plan, effective_from__lte=month.replace(day=1))
        .order_by("-effective_from")
        .prefetch_related(charges_prefetch())
        .first()
    )


def price_plans_with_versions() -> QuerySet[PricePlan]:
    """Plans with every version, charge, meter and tier loaded in a constant number of
    queries; pick a month's version in Python with `version_in_effect`."""
    return PricePlan.objects.select_related("product").prefetch_related(
        Prefetch(
            "versions",
            queryset=PricePlanVersion.objects.order_by("version").prefetch_related(
                charges_prefetch()
            ),
        )
    )


def version_in_effect(plan: PricePlan, month: datetime.date) -> PricePlanVersion | None:
    """Like `price_plan_version_for`, over versions already prefetched (no query)."""
    first = month.replace(day=1)
    current = None
    for version in plan.versions.all():
        if version.effective_from <= first and (
            current is None or version.effective_from > current.effective_from
        ):
            current = version
    return current
