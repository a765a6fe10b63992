"""How the catalog pages show prices: a plan version's charges as table rows of plain text,
built in Python from prefetched rows (no query, no template logic about charge models)."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal

from babel.numbers import format_currency, format_decimal

from billing.enums import TIERED_MODELS, ChargeModel
from billing.models import Charge, PricePlanVersion

LOCALE = "en"

# A version's place in time, relative to the current month.
IN_EFFECT = "in_effect"
SCHEDULED = "scheduled"
PAST = "past"
STATE_LABELS = {IN_EFFECT: "In effect", SCHEDULED: "Scheduled", PAST: "Replaced"}


def price(value: Decimal | None, currency: str) -> str:
    """€0.05, €0.000125, €3.00: every significant decimal, at least the currency's."""
    if value is None:
        return "—"
    exact = value.quantize(Decimal(1)) if value == value.to_integral_value() else value.normalize()
    return format_currency(exact, currency, locale=LOCALE, decimal_quantization=False)


def number(value: int) -> str:
    return format_decimal(value, locale=LOCALE)


@dataclass(frozen=True)
class TierRow:
    band: str
    unit_price: str
    flat_fee: str  # "" when none


@dataclass(frozen=True)
class ChargeRow:
    number: int
    on: str
    on_detail: str
    model: str
    prices: str
    tiers: list[TierRow]
    pooled: str
    counting_rule: str


@dataclass(frozen=True)
class VersionView:
    version: PricePlanVersion
    state: str
    charges: list[ChargeRow]

    @property
    def state_label(self) -> str:
        return STATE_LABELS[self.state]

    @property
    def badge(self) -> str:
        return {IN_EFFECT: "badge-success", SCHEDULED: "badge-info", PAST: "badge-neutral"}[
            self.state
        ]


def _plural(unit: str) -> str:
    """seat → seats, device → devices; symbols and abbreviations (GB, kWh) stay as they are."""
    if unit.isalpha() and unit.islower() and not unit.endswith(("s", "x", "ch", "sh")):
        return f"{unit}s"
    return unit


def _unit(charge: Charge) -> str:
    return "seat" if charge.seats else charge.meter.unit


def _tier_rows(charge: Charge, currency: str) -> list[TierRow]:
    rows = []
    previous: int | None = None
    unit = _unit(charge)
    for tier in charge.tiers.all():
        if tier.up_to is None:
            band = f"Above {number(previous)}" if previous is not None else "Any quantity"
        elif previous is None:
            band = f"Up to {number(tier.up_to)}"
        else:
            band = f"Above {number(previous)} up to {number(tier.up_to)}"
        rows.append(
            TierRow(
                band=band,
                unit_price=f"{price(tier.unit_price, currency)} per {unit}",
                flat_fee=price(tier.flat_fee, currency) if tier.flat_fee else "",
            )
        )
        previous = tier.up_to
    return rows


def _prices(charge: Charge, currency: str) -> str:
    unit = _unit(charge)
    if charge.model == ChargeModel.PER_UNIT:
        return f"{price(charge.unit_price, currency)} per {unit}"
    if charge.model == ChargeModel.PACKAGE:
        size = charge.package_size or 0
        units = _plural(unit) if size != 1 else unit
        return (
            f"{price(charge.package_price, currency)} per started package of {number(size)} {units}"
        )
    if charge.model == ChargeModel.FLAT:
        return f"{price(charge.flat_fee, currency)} per month"
    if charge.model == ChargeModel.GRADUATED:
        return "Each unit at its tier's price, plus the flat fee of every tier reached"
    return "Every unit at the price of the tier the total falls in, plus that tier's flat fee"


def charge_row(charge: Charge, currency: str) -> ChargeRow:
    tiered = charge.model in TIERED_MODELS
    if charge.seats:
        on, detail = "Seats", ""
    else:
        on, detail = charge.meter.name, f"{charge.meter.code} · per {charge.meter.unit}"
    return ChargeRow(
        number=charge.position + 1,
        on=on,
        on_detail=detail,
        model=charge.get_model_display(),
        prices=_prices(charge, currency),
        tiers=_tier_rows(charge, currency) if tiered else [],
        pooled=(
            ("Pooled over the partner's clients" if charge.pooled else "Per client")
            if tiered
            else "—"
        ),
        counting_rule=charge.get_counting_rule_display() if charge.seats else "—",
    )


def version_views(
    versions: list[PricePlanVersion], month: datetime.date, currency: str
) -> list[VersionView]:
    """Every version, newest first, with the one pricing `month` marked in effect."""
    first = month.replace(day=1)
    current = None
    for version in versions:
        if version.effective_from <= first and (
            current is None or version.effective_from > current.effective_from
        ):
            current = version
    views = []
    for version in sorted(versions, key=lambda v: v.version, reverse=True):
        if version is current:
            state = IN_EFFECT
        elif version.effective_from > first:
            state = SCHEDULED
        else:
            state = PAST
        views.append(
            VersionView(
                version=version,
                state=state,
                charges=[charge_row(charge, currency) for charge in version.charges.all()],
            )
        )
    return views


def charge_summary(version: PricePlanVersion | None) -> list[str]:
    """Short labels of a version's charges for the plan list: "Seats · Per unit"."""
    if version is None:
        return []
    return [
        f"{'Seats' if charge.seats else charge.meter.code} · {charge.get_model_display()}"
        for charge in version.charges.all()
    ]
