"""Commission plans and growth bonus rules: versioned by month, never edited.

A plan (or rule) applies from its `effective_from` month until the next one's. Once a month is
finalized its commission has been (or is being) accrued under the plan then in force, so a new
plan may only start in a month whose billing period is not finalized yet; a plan is never edited
in place (there is no update service): a change is a new plan from a later month. This keeps
every accrued entry explainable by the plan that was in force for its month.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.db import IntegrityError, transaction

from billing.models import BillingPeriod, Product
from billing.models_invoicing import PeriodStatus
from core.actors import Actor
from core.money import MoneyError, check_currency, is_rounded, minor_units
from core.services.audit import audit_record, snapshot
from partners.models import Tier

from ..commission import Accelerator, GrowthBand, PlanRules
from ..errors import IncentivesError
from ..models import (
    CommissionAccelerator,
    CommissionBasis,
    CommissionPlan,
    CommissionProductRate,
    CommissionTierRate,
    GrowthBonusBand,
    GrowthBonusRule,
)

__all__ = [
    "GrowthRuleFacts",
    "commission_plan_create",
    "growth_bonus_rule_create",
    "growth_rules_facts",
    "plans_rules",
]

HUNDRED = Decimal(100)
MAX_MULTIPLIER = Decimal("100")
MAX_GROWTH_PCT = Decimal("999.9999")  # the NUMERIC(7, 4) column's largest value
MAX_AMOUNT = Decimal("999999999999")  # well inside the NUMERIC(18, 4) amount columns


@dataclass(frozen=True, slots=True)
class GrowthRuleFacts:
    effective_from: datetime.date
    bands: tuple[GrowthBand, ...]
    new_client_months: int
    new_client_bonus: Decimal
    currency: str
    rule_id: int | None = None


# ---- reads (plain values for the pure rules) -------------------------------------------------


def plans_rules() -> list[PlanRules]:
    plans = CommissionPlan.objects.prefetch_related("tier_rates", "product_rates", "accelerators")
    return [
        PlanRules(
            plan_id=plan.pk,
            effective_from=plan.effective_from,
            basis=plan.basis,
            tier_rates={r.tier_id: r.rate_pct for r in plan.tier_rates.all()},
            product_rates={r.product_id: r.rate_pct for r in plan.product_rates.all()},
            accelerators=tuple(
                Accelerator(min_mrr=a.min_mrr, multiplier=a.multiplier)
                for a in plan.accelerators.all()
            ),
        )
        for plan in plans
    ]


def growth_rules_facts() -> list[GrowthRuleFacts]:
    return [
        GrowthRuleFacts(
            rule_id=rule.pk,
            effective_from=rule.effective_from,
            bands=tuple(
                GrowthBand(min_growth_pct=b.min_growth_pct, rate_pct=b.rate_pct)
                for b in rule.bands.all()
            ),
            new_client_months=rule.new_client_months,
            new_client_bonus=rule.new_client_bonus,
            currency=rule.currency,
        )
        for rule in GrowthBonusRule.objects.prefetch_related("bands")
    ]


def first_open_month() -> datetime.date | None:
    """The earliest month a new plan may start: the month after the latest finalized period
    (None: nothing finalized yet, any month)."""
    latest = (
        BillingPeriod.objects.filter(status=PeriodStatus.FINALIZED)
        .order_by("-month")
        .values_list("month", flat=True)
        .first()
    )
    if latest is None:
        return None
    return (latest.replace(day=28) + datetime.timedelta(days=4)).replace(day=1)


# ---- validation ------------------------------------------------------------------------------


def _decimal(value: object, *, field: str, label: str = "a number") -> Decimal:
    # Decimals, ints and strings only: a binary fraction is not an exact amount.
    if isinstance(value, bool) or not isinstance(value, Decimal | int | str):
        raise IncentivesError(f'Give {label} as a decimal string, e.g. "12.5".', field=field)
    try:
        number = value if isinstance(value, Decimal) else Decimal(str(value))
    except (ArithmeticError, ValueError, TypeError):
        raise IncentivesError(
            f'Give {label} as a decimal string, e.g. "12.5".', field=field
        ) from None
    if not number.is_finite():
        raise IncentivesError(f'Give {label} as a decimal string, e.g. "12.5".', field=field)
    # Checked before any quantize (which overflows on huge exponents) and before the INSERT (the
    # columns hold less than 10^14): a refusal, not a 500.
    if abs(number) > MAX_AMOUNT:
        raise IncentivesError(f"At most {MAX_AMOUNT:,} — that is too large.", field=field)
    return number


def _percent(value: object, *, field: str) -> Decimal:
    pct = _decimal(value, field=field, label="a percentage")
    if not Decimal(0) <= pct <= HUNDRED:
        raise IncentivesError("A rate is a percentage between 0 and 100.", field=field)
    if pct != pct.quantize(Decimal("0.0001")):
        raise IncentivesError("A rate has at most 4 decimal places.", field=field)
    return pct


def _month(value: object, *, field: str = "effective_from") -> datetime.date:
    if not isinstance(value, datetime.date):
        raise IncentivesError("Give the month as YYYY-MM.", field=field)
    if value.day != 1:
        raise IncentivesError("A plan starts on the first day of a month.", field=field)
    earliest = first_open_month()
    if earliest is not None and value < earliest:
        raise IncentivesError(
            f"{value:%Y-%m} is finalized and its commission accrued under the plan then in "
            f"force: a new plan can start in {earliest:%Y-%m} at the earliest.",
            field=field,
        )
    return value


def _name(value: object) -> str:
    name = value.strip() if isinstance(value, str) else ""
    if not name:
        raise IncentivesError("Give the plan a name.", field="name")
    if len(name) > 200:
        raise IncentivesError("At most 200 characters.", field="name")
    return name


# ---- commission plans ------------------------------------------------------------------------


def commission_plan_create(
    *,
    name: str,
    basis: str,
    effective_from: datetime.date,
    actor: Actor,
    minimum_payout: Decimal | str = Decimal(0),
    tier_rates: Mapping[int, Decimal | str] | None = None,
    product_rates: Mapping[int, Decimal | str] | None = None,
    accelerators: Sequence[tuple[Decimal | str, Decimal | str]] = (),
) -> CommissionPlan:
    """A new commission plan from `effective_from` (tier id → rate %, product id → rate %,
    accelerator bands as (min MRR, multiplier)). Raises IncentivesError naming the field."""
    name = _name(name)
    if basis not in CommissionBasis.values:
        raise IncentivesError("Choose billed or collected.", field="basis")
    minimum = _decimal(minimum_payout, field="minimum_payout", label="the minimum payout")
    if minimum < 0:
        raise IncentivesError("The minimum payout cannot be negative.", field="minimum_payout")
    if minimum != minimum.quantize(Decimal("0.01")):
        raise IncentivesError("At most 2 decimal places.", field="minimum_payout")
    tiers = {t.pk: t for t in Tier.objects.filter(pk__in=list(tier_rates or {}))}
    rates = {}
    for index, (tier_id, rate) in enumerate((tier_rates or {}).items()):
        if tier_id not in tiers:
            raise IncentivesError(f"There is no tier {tier_id}.", field=f"tier_rates[{index}].tier")
        rates[tier_id] = _percent(rate, field=f"tier_rates[{index}].rate_pct")
    products = set(
        Product.objects.filter(pk__in=list(product_rates or {})).values_list("pk", flat=True)
    )
    overrides = {}
    for index, (product_id, rate) in enumerate((product_rates or {}).items()):
        if product_id not in products:
            raise IncentivesError(
                f"There is no product {product_id}.", field=f"product_rates[{index}].product"
            )
        overrides[product_id] = _percent(rate, field=f"product_rates[{index}].rate_pct")
    bands: list[tuple[Decimal, Decimal]] = []
    seen: set[Decimal] = set()
    for index, (min_mrr, multiplier) in enumerate(accelerators):
        low = _decimal(min_mrr, field=f"accelerators[{index}].min_mrr", label="an amount")
        factor = _decimal(
            multiplier, field=f"accelerators[{index}].multiplier", label="a multiplier"
        )
        if low < 0 or low != low.quantize(Decimal("0.01")):
            raise IncentivesError(
                "A band starts at an amount ≥ 0 with at most 2 decimals.",
                field=f"accelerators[{index}].min_mrr",
            )
        if not Decimal(0) < factor <= MAX_MULTIPLIER or factor != factor.quantize(Decimal("0.001")):
            raise IncentivesError(
                "A multiplier is more than 0, at most 100, with at most 3 decimals.",
                field=f"accelerators[{index}].multiplier",
            )
        if low in seen:
            raise IncentivesError(
                "Two bands start at the same MRR.", field=f"accelerators[{index}].min_mrr"
            )
        seen.add(low)
        bands.append((low, factor))
    month = _month(effective_from)
    try:
        with transaction.atomic():
            plan = CommissionPlan.objects.create(
                name=name,
                basis=basis,
                effective_from=month,
                minimum_payout=minimum,
                created_by_label=actor.label[:254],
            )
            CommissionTierRate.objects.bulk_create(
                CommissionTierRate(plan=plan, tier_id=t, rate_pct=r) for t, r in rates.items()
            )
            CommissionProductRate.objects.bulk_create(
                CommissionProductRate(plan=plan, product_id=p, rate_pct=r)
                for p, r in overrides.items()
            )
            CommissionAccelerator.objects.bulk_create(
                CommissionAccelerator(plan=plan, min_mrr=low, multiplier=factor)
                for low, factor in bands
            )
            after = snapshot(plan)
            after["tier_rates"] = {str(t): str(r) for t, r in rates.items()}
            after["product_rates"] = {str(p): str(r) for p, r in overrides.items()}
            after["accelerators"] = [[str(low), str(f)] for low, f in bands]
            audit_record(actor=actor, action="commission_plan.created", instance=plan, after=after)
    except IntegrityError:
        raise IncentivesError(
            f"A plan already starts in {month:%Y-%m}.", field="effective_from"
        ) from None
    return plan


# ---- growth bonus rules ----------------------------------------------------------------------


def growth_bonus_rule_create(
    *,
    name: str,
    effective_from: datetime.date,
    currency: str,
    actor: Actor,
    new_client_months: int = 3,
    new_client_bonus: Decimal | str = Decimal(0),
    bands: Sequence[tuple[Decimal | str, Decimal | str]] = (),
) -> GrowthBonusRule:
    """A new growth bonus rule from `effective_from`; bands are (min growth %, rate %)."""
    name = _name(name)
    try:
        currency = check_currency(currency)
    except MoneyError:
        raise IncentivesError("Use an ISO 4217 code such as EUR.", field="currency") from None
    if isinstance(new_client_months, bool) or not isinstance(new_client_months, int):
        raise IncentivesError("Give a whole number of months.", field="new_client_months")
    if not 1 <= new_client_months <= 24:
        raise IncentivesError("Between 1 and 24 months.", field="new_client_months")
    bonus = _decimal(new_client_bonus, field="new_client_bonus", label="an amount")
    if bonus < 0 or not is_rounded(bonus, currency):
        raise IncentivesError(
            f"An amount ≥ 0 with at most {minor_units(currency)} decimal places.",
            field="new_client_bonus",
        )
    checked: list[tuple[Decimal, Decimal]] = []
    seen: set[Decimal] = set()
    for index, (min_pct, rate) in enumerate(bands):
        low = _decimal(min_pct, field=f"bands[{index}].min_growth_pct", label="a percentage")
        if not Decimal(0) <= low <= MAX_GROWTH_PCT or low != low.quantize(Decimal("0.0001")):
            raise IncentivesError(
                f"A threshold is a growth percentage from 0 to {MAX_GROWTH_PCT} with at most "
                "4 decimals.",
                field=f"bands[{index}].min_growth_pct",
            )
        if low in seen:
            raise IncentivesError(
                "Two bands start at the same growth.", field=f"bands[{index}].min_growth_pct"
            )
        seen.add(low)
        checked.append((low, _percent(rate, field=f"bands[{index}].rate_pct")))
    month = _month(effective_from)
    try:
        with transaction.atomic():
            rule = GrowthBonusRule.objects.create(
                name=name,
                effective_from=month,
                currency=currency,
                new_client_months=new_client_months,
                new_client_bonus=bonus,
                created_by_label=actor.label[:254],
            )
            GrowthBonusBand.objects.bulk_create(
                GrowthBonusBand(rule=rule, min_growth_pct=low, rate_pct=rate)
                for low, rate in checked
            )
            after = snapshot(rule)
            after["bands"] = [[str(low), str(rate)] for low, rate in checked]
            audit_record(
                actor=actor, action="growth_bonus_rule.created", instance=rule, after=after
            )
    except IntegrityError:
        raise IncentivesError(
            f"A rule already starts in {month:%Y-%m}.", field="effective_from"
        ) from None
    return rule
