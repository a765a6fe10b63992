"""Writes to the billing catalog: products, meters, price plans and their versions.

Every function runs in one transaction with one audit row, and raises `BillingError` naming the
field in the API's terms (`charges[1].tiers[0].up_to`) before anything is saved. A plan's prices
are never edited in place: `price_plan_revise` adds a version effective from a later month.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from babel.numbers import is_currency
from django.db import IntegrityError, transaction
from django.db.models.fields.json import KeyTextTransform

from billing.enums import TIERED_MODELS, Aggregation, ChargeModel, SeatCountingRule
from billing.errors import BillingError
from billing.models import (
    Charge,
    ChargeTier,
    Meter,
    PricePlan,
    PricePlanVersion,
    Product,
    UsageEvent,
)
from core.actors import Actor
from core.money import minor_units
from core.services.audit import audit_record, audited_update, snapshot
from partners.services.partners import today_for_vendor

CODE_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")
CODE_RULE = "Codes are 1–64 letters, digits, “_”, “.” or “-”, starting with a letter or digit."
MAX_CHARGES = 50
MAX_TIERS = 50
# Unit prices: up to 6 decimals, 12 integer digits (the columns are numeric(18, 6)).
_PRICE_EXPONENT = -6
_MAX_INTEGER_DIGITS = 12

# The fields of a charge, and which models may have each (the others must be left out).
CHARGE_FIELDS = (
    "meter",
    "seats",
    "model",
    "unit_price",
    "tiers",
    "package_size",
    "package_price",
    "flat_fee",
    "pooled",
    "counting_rule",
)
_MODEL_FIELDS: dict[str, frozenset[str]] = {
    ChargeModel.PER_UNIT: frozenset({"unit_price"}),
    ChargeModel.GRADUATED: frozenset({"tiers"}),
    ChargeModel.VOLUME: frozenset({"tiers"}),
    ChargeModel.PACKAGE: frozenset({"package_size", "package_price"}),
    ChargeModel.FLAT: frozenset({"flat_fee"}),
}
_PRICED_FIELDS = frozenset({"unit_price", "tiers", "package_size", "package_price", "flat_fee"})
TIER_FIELDS = ("up_to", "unit_price", "flat_fee")


# --- small helpers ---------------------------------------------------------------------------


def first_of_month(day: datetime.date) -> datetime.date:
    return day.replace(day=1)


def next_month(day: datetime.date) -> datetime.date:
    return (day.replace(day=28) + datetime.timedelta(days=4)).replace(day=1)


def currency_decimals(currency: str) -> int:
    """The currency's minor-unit digits (EUR 2, JPY 0, BHD 3), from Babel's CLDR data."""
    return minor_units(currency)


def clean_code(value: Any, *, field: str = "code") -> str:
    code = str(value or "").strip()
    if not code:
        raise BillingError("A code is required.", field=field)
    if not CODE_PATTERN.match(code):
        raise BillingError(CODE_RULE, field=field)
    return code


def clean_text(value: Any, *, field: str, label: str, max_length: int, required: bool) -> str:
    text = str(value or "").strip()
    if required and not text:
        raise BillingError(f"{label} is required.", field=field)
    if len(text) > max_length:
        raise BillingError(f"{label} is at most {max_length} characters.", field=field)
    return text


def clean_currency(value: Any) -> str:
    currency = str(value or "").strip().upper()
    if len(currency) != 3 or not is_currency(currency):
        raise BillingError(f"“{currency}” is not an ISO 4217 currency code.", field="currency")
    return currency


def _decimal(value: Any, *, field: str) -> Decimal:
    if isinstance(value, (bool, float)):
        # Floats cannot hold prices exactly (0.1 + 0.2): amounts travel as decimal strings.
        raise BillingError('Give amounts as decimal strings, e.g. "0.05".', field=field)
    try:
        number = Decimal(str(value).strip()) if not isinstance(value, Decimal) else value
    except (InvalidOperation, ValueError):
        raise BillingError(f"“{value}” is not a decimal number.", field=field) from None
    if not number.is_finite():
        raise BillingError(f"“{value}” is not a decimal number.", field=field)
    if number < 0:
        raise BillingError("Prices cannot be negative.", field=field)
    return number


def clean_unit_price(value: Any, *, field: str) -> Decimal:
    number = _decimal(value, field=field)
    if number >= Decimal(10) ** _MAX_INTEGER_DIGITS:
        raise BillingError("That price is too large.", field=field)
    step = Decimal(1).scaleb(_PRICE_EXPONENT)
    if number != number.quantize(step):
        raise BillingError("Unit prices have at most 6 decimal places.", field=field)
    return number.quantize(step)


def clean_amount(value: Any, *, field: str, currency: str) -> Decimal:
    """A money amount (a fee, a package's price): at most the currency's minor-unit digits."""
    number = _decimal(value, field=field)
    if number >= Decimal(10) ** _MAX_INTEGER_DIGITS:
        raise BillingError("That amount is too large.", field=field)
    places = currency_decimals(currency)
    step = Decimal(1).scaleb(-places)
    if number != number.quantize(step):
        raise BillingError(
            f"{currency} amounts have at most {places} decimal places."
            if places
            else f"{currency} amounts are whole numbers.",
            field=field,
        )
    return number.quantize(step)


def _positive_int(value: Any, *, field: str, message: str) -> int:
    if isinstance(value, bool):
        raise BillingError(message, field=field)
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and value.strip().isdigit():
        number = int(value.strip())
    elif isinstance(value, Decimal) and value == value.to_integral_value():
        number = int(value)
    else:
        raise BillingError(message, field=field)
    if number < 1 or number >= 2**63:
        raise BillingError(message, field=field)
    return number


def _given(value: Any) -> bool:
    """A charge field counts as given unless it is left out, null, empty or false."""
    return value not in (None, "", [], False)


# --- products --------------------------------------------------------------------------------


def product_create(*, code: str, name: str, actor: Actor, description: str = "") -> Product:
    code = clean_code(code)
    name = clean_text(name, field="name", label="A name", max_length=200, required=True)
    description = str(description or "").strip()
    with transaction.atomic():
        if Product.objects.filter(code=code).exists():
            raise BillingError(f"There is already a product “{code}”.", field="code")
        product = Product.objects.create(code=code, name=name, description=description)
        audit_record(
            actor=actor, action="product.created", instance=product, after=snapshot(product)
        )
    return product


def product_update(*, product: Product, actor: Actor, name: str, description: str = "") -> Product:
    """A product's name and description. Its code never changes (plans and meters name it)."""
    name = clean_text(name, field="name", label="A name", max_length=200, required=True)
    description = str(description or "").strip()
    with transaction.atomic():
        locked = Product.objects.select_for_update().get(pk=product.pk)
        changed = {
            key: value
            for key, value in {"name": name, "description": description}.items()
            if getattr(locked, key) != value
        }
        if changed:
            audited_update(locked, actor=actor, action="product.updated", changes=changed)
    return locked


# --- meters ----------------------------------------------------------------------------------


def _clean_meter_fields(fields: dict[str, Any]) -> dict[str, Any]:
    cleaned = dict(fields)
    if "name" in cleaned:
        cleaned["name"] = clean_text(
            cleaned["name"], field="name", label="A name", max_length=200, required=True
        )
    if "unit" in cleaned:
        cleaned["unit"] = clean_text(
            cleaned["unit"], field="unit", label="A unit", max_length=50, required=True
        )
    if "aggregation" in cleaned and cleaned["aggregation"] not in Aggregation.values:
        choices = ", ".join(Aggregation.values)
        raise BillingError(
            f"“{cleaned['aggregation']}” is not an aggregation; use one of {choices}.",
            field="aggregation",
        )
    if "unique_property" in cleaned:
        cleaned["unique_property"] = clean_text(
            cleaned["unique_property"],
            field="unique_property",
            label="The unique property",
            max_length=100,
            required=False,
        )
    product = cleaned.get("product")
    if product is not None and not isinstance(product, Product):
        raise BillingError("Choose a product of the catalog.", field="product")
    return cleaned


def _check_unique_property(aggregation: str, unique_property: str) -> None:
    if aggregation == Aggregation.UNIQUE_COUNT and not unique_property:
        raise BillingError(
            "A unique_count meter counts distinct values of one event property: name it.",
            field="unique_property",
        )
    if aggregation != Aggregation.UNIQUE_COUNT and unique_property:
        raise BillingError(
            "Only unique_count meters have a unique property.", field="unique_property"
        )


def meter_create(
    *,
    code: str,
    name: str,
    unit: str,
    aggregation: str,
    actor: Actor,
    unique_property: str = "",
    product: Product | None = None,
) -> Meter:
    code = clean_code(code)
    fields = _clean_meter_fields(
        {
            "name": name,
            "unit": unit,
            "aggregation": aggregation,
            "unique_property": unique_property,
            "product": product,
        }
    )
    _check_unique_property(fields["aggregation"], fields["unique_property"])
    with transaction.atomic():
        if Meter.objects.filter(code=code).exists():
            raise BillingError(f"There is already a meter “{code}”.", field="code")
        meter = Meter.objects.create(code=code, **fields)
        audit_record(actor=actor, action="meter.created", instance=meter, after=snapshot(meter))
    return meter


METER_EDITABLE_FIELDS = ("name", "unit", "aggregation", "unique_property", "product")


def meter_update(*, meter: Meter, actor: Actor, **changes: Any) -> Meter:
    """Change a meter's name, unit, product, or (while no started plan version bills it) how it
    aggregates. The code never changes: usage events and integrations name the meter by it."""
    if "code" in changes and changes["code"] != meter.code:
        raise BillingError("A meter's code cannot change once it is created.", field="code")
    changes.pop("code", None)
    unknown = set(changes) - set(METER_EDITABLE_FIELDS)
    if unknown:
        raise BillingError(f"These fields cannot be changed here: {', '.join(sorted(unknown))}.")
    cleaned = _clean_meter_fields(changes)
    with transaction.atomic():
        locked = Meter.objects.select_for_update().get(pk=meter.pk)
        aggregation = cleaned.get("aggregation", locked.aggregation)
        if "aggregation" in cleaned and aggregation != Aggregation.UNIQUE_COUNT:
            cleaned.setdefault("unique_property", "")
        unique_property = cleaned.get("unique_property", locked.unique_property)
        _check_unique_property(aggregation, unique_property)
        changed = {k: v for k, v in cleaned.items() if getattr(locked, k) != v}
        meaning = {"aggregation", "unique_property"} & set(changed)
        if meaning and _meter_billed_by_started_version(locked):
            raise BillingError(
                "Price plans in effect bill this meter: its aggregation cannot change. "
                "Create a new meter instead.",
                field=sorted(meaning)[0],
            )
        if "product" in changed:  # recorded by id: the audit row holds JSON
            product = changed.pop("product")
            changed["product_id"] = product.pk if product is not None else None
        if changed:
            audited_update(locked, actor=actor, action="meter.updated", changes=changed)
        if meaning:
            _rewrite_unique_values(locked, aggregation, unique_property)
    return locked


def _rewrite_unique_values(meter: Meter, aggregation: str, unique_property: str) -> None:
    """The meter now counts another property (or no longer counts distinct values): its events'
    `unique_value` follows, as ingest would have written it (see UsageEvent)."""
    counted = unique_property if aggregation == Aggregation.UNIQUE_COUNT else ""
    UsageEvent.objects.filter(meter=meter).update(
        unique_value=KeyTextTransform(counted, "properties") if counted else None
    )


def _meter_billed_by_started_version(meter: Meter) -> bool:
    return Charge.objects.filter(
        meter=meter, version__effective_from__lte=today_for_vendor()
    ).exists()


# --- price plans -----------------------------------------------------------------------------


@dataclass
class CleanTier:
    up_to: int | None
    unit_price: Decimal
    flat_fee: Decimal


@dataclass
class CleanCharge:
    meter: Meter | None
    seats: bool
    model: str
    unit_price: Decimal | None = None
    package_size: int | None = None
    package_price: Decimal | None = None
    flat_fee: Decimal | None = None
    pooled: bool = False
    counting_rule: str = ""
    tiers: list[CleanTier] = field(default_factory=list)


def clean_charges(charges: Any, *, currency: str) -> list[CleanCharge]:
    """Check every rule of every charge; the first problem raises, naming its field path."""
    if not isinstance(charges, Sequence) or isinstance(charges, (str, bytes)):
        raise BillingError("Charges are a list.", field="charges")
    if not charges:
        raise BillingError("A price plan needs at least one charge.", field="charges")
    if len(charges) > MAX_CHARGES:
        raise BillingError(f"A price plan has at most {MAX_CHARGES} charges.", field="charges")
    codes = {
        charge["meter"]
        for charge in charges
        if isinstance(charge, Mapping) and isinstance(charge.get("meter"), str)
    }
    meters = {meter.code: meter for meter in Meter.objects.filter(code__in=codes)}
    return [
        _clean_charge(charge, path=f"charges[{index}]", currency=currency, meters=meters)
        for index, charge in enumerate(charges)
    ]


def _clean_charge(
    charge: Any, *, path: str, currency: str, meters: dict[str, Meter]
) -> CleanCharge:
    if not isinstance(charge, Mapping):
        raise BillingError("A charge is an object.", field=path)
    unknown = sorted(set(charge) - set(CHARGE_FIELDS))
    if unknown:
        raise BillingError("Unknown charge field.", field=f"{path}.{unknown[0]}")

    meter_value = charge.get("meter")
    seats = charge.get("seats") or False
    if not isinstance(seats, bool):
        raise BillingError("seats is true or false.", field=f"{path}.seats")
    if _given(meter_value) and seats:
        raise BillingError("A charge is on a meter or on seats, not both.", field=f"{path}.seats")
    if not _given(meter_value) and not seats:
        raise BillingError('Name a meter, or set "seats": true.', field=f"{path}.meter")
    meter: Meter | None = None
    if _given(meter_value):
        if isinstance(meter_value, Meter):
            meter = meter_value
        else:
            meter = meters.get(str(meter_value))
            if meter is None:
                raise BillingError(f"There is no meter “{meter_value}”.", field=f"{path}.meter")

    model = charge.get("model")
    if not _given(model):
        raise BillingError("Choose the charge model.", field=f"{path}.model")
    if model not in ChargeModel.values:
        choices = ", ".join(ChargeModel.values)
        raise BillingError(
            f"“{model}” is not a charge model; use one of {choices}.", field=f"{path}.model"
        )
    allowed = _MODEL_FIELDS[model]
    for name in CHARGE_FIELDS:
        if name in _PRICED_FIELDS and name not in allowed and _given(charge.get(name)):
            raise BillingError(f"A {model} charge has no {name}.", field=f"{path}.{name}")

    clean = CleanCharge(meter=meter, seats=seats, model=model)
    if model == ChargeModel.PER_UNIT:
        if not _given(charge.get("unit_price")):
            raise BillingError("A per_unit charge needs a unit price.", field=f"{path}.unit_price")
        clean.unit_price = clean_unit_price(charge["unit_price"], field=f"{path}.unit_price")
    elif model in TIERED_MODELS:
        clean.tiers = _clean_tiers(
            charge.get("tiers"), model=model, path=f"{path}.tiers", currency=currency
        )
    elif model == ChargeModel.PACKAGE:
        size_message = "A package charge needs a package size: a whole number of units, at least 1."
        if not _given(charge.get("package_size")):
            raise BillingError(size_message, field=f"{path}.package_size")
        clean.package_size = _positive_int(
            charge["package_size"], field=f"{path}.package_size", message=size_message
        )
        if not _given(charge.get("package_price")):
            raise BillingError(
                "A package charge needs the price of one package.", field=f"{path}.package_price"
            )
        clean.package_price = clean_amount(
            charge["package_price"], field=f"{path}.package_price", currency=currency
        )
    else:  # flat
        if not _given(charge.get("flat_fee")):
            raise BillingError("A flat charge needs its fee.", field=f"{path}.flat_fee")
        clean.flat_fee = clean_amount(
            charge["flat_fee"], field=f"{path}.flat_fee", currency=currency
        )

    pooled = charge.get("pooled") or False
    if not isinstance(pooled, bool):
        raise BillingError("pooled is true or false.", field=f"{path}.pooled")
    if pooled and model not in TIERED_MODELS:
        raise BillingError(
            "Only tiered charges (graduated, volume) can count their tiers over all clients.",
            field=f"{path}.pooled",
        )
    clean.pooled = pooled

    rule = charge.get("counting_rule") or ""
    if seats:
        if not rule:
            raise BillingError(
                "A seat charge needs a counting rule: average, peak or snapshot.",
                field=f"{path}.counting_rule",
            )
        if rule not in SeatCountingRule.values:
            raise BillingError(
                f"“{rule}” is not a counting rule; use average, peak or snapshot.",
                field=f"{path}.counting_rule",
            )
        clean.counting_rule = rule
    elif rule:
        raise BillingError(
            "Only seat charges have a counting rule: a meter's aggregation counts its usage.",
            field=f"{path}.counting_rule",
        )
    return clean


def _clean_tiers(tiers: Any, *, model: str, path: str, currency: str) -> list[CleanTier]:
    if tiers is None or tiers == []:
        raise BillingError(f"A {model} charge needs at least one tier.", field=path)
    if not isinstance(tiers, Sequence) or isinstance(tiers, (str, bytes)):
        raise BillingError("Tiers are a list.", field=path)
    if len(tiers) > MAX_TIERS:
        raise BillingError(f"A charge has at most {MAX_TIERS} tiers.", field=path)
    cleaned: list[CleanTier] = []
    last = len(tiers) - 1
    previous = 0
    for index, tier in enumerate(tiers):
        here = f"{path}[{index}]"
        if not isinstance(tier, Mapping):
            raise BillingError("A tier is an object.", field=here)
        unknown = sorted(set(tier) - set(TIER_FIELDS))
        if unknown:
            raise BillingError("Unknown tier field.", field=f"{here}.{unknown[0]}")
        up_to = tier.get("up_to")
        if index == last:
            if up_to is not None:
                raise BillingError(
                    "The last tier has no upper bound: set up_to to null.", field=f"{here}.up_to"
                )
        else:
            if up_to is None:
                raise BillingError(
                    "Only the last tier is open-ended; this one needs up_to.",
                    field=f"{here}.up_to",
                )
            up_to = _positive_int(
                up_to, field=f"{here}.up_to", message="up_to is a whole number, at least 1."
            )
            if up_to <= previous:
                raise BillingError(
                    f"Tiers go up: up_to must be above the previous tier's ({previous}).",
                    field=f"{here}.up_to",
                )
            previous = up_to
        if tier.get("unit_price") in (None, ""):
            raise BillingError(
                'A tier needs a unit price ("0" for none).', field=f"{here}.unit_price"
            )
        unit_price = clean_unit_price(tier["unit_price"], field=f"{here}.unit_price")
        fee = tier.get("flat_fee")
        flat_fee = clean_amount(
            "0" if fee in (None, "") else fee, field=f"{here}.flat_fee", currency=currency
        )
        cleaned.append(CleanTier(up_to=up_to, unit_price=unit_price, flat_fee=flat_fee))
    return cleaned


def _write_version(
    plan: PricePlan, *, number: int, effective_from: datetime.date, charges: list[CleanCharge]
) -> PricePlanVersion:
    version = PricePlanVersion.objects.create(
        plan=plan, version=number, effective_from=effective_from
    )
    rows = Charge.objects.bulk_create(
        [
            Charge(
                version=version,
                position=position,
                meter=charge.meter,
                seats=charge.seats,
                model=charge.model,
                unit_price=charge.unit_price,
                package_size=charge.package_size,
                package_price=charge.package_price,
                flat_fee=charge.flat_fee,
                pooled=charge.pooled,
                counting_rule=charge.counting_rule,
            )
            for position, charge in enumerate(charges)
        ]
    )
    ChargeTier.objects.bulk_create(
        [
            ChargeTier(
                charge=row,
                position=position,
                up_to=tier.up_to,
                unit_price=tier.unit_price,
                flat_fee=tier.flat_fee,
            )
            for row, charge in zip(rows, charges, strict=True)
            for position, tier in enumerate(charge.tiers)
        ]
    )
    return version


def version_snapshot(version: PricePlanVersion, charges: list[CleanCharge]) -> dict[str, Any]:
    """The audit log's picture of a version: its month and every charge as given."""
    return {
        "version": version.version,
        "effective_from": version.effective_from.isoformat(),
        "charges": [
            {
                "meter": charge.meter.code if charge.meter else None,
                "seats": charge.seats,
                "model": charge.model,
                "unit_price": _str_or_none(charge.unit_price),
                "package_size": charge.package_size,
                "package_price": _str_or_none(charge.package_price),
                "flat_fee": _str_or_none(charge.flat_fee),
                "pooled": charge.pooled,
                "counting_rule": charge.counting_rule,
                "tiers": [
                    {
                        "up_to": tier.up_to,
                        "unit_price": str(tier.unit_price),
                        "flat_fee": str(tier.flat_fee),
                    }
                    for tier in charge.tiers
                ],
            }
            for charge in charges
        ],
    }


def _str_or_none(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _clean_month(value: Any, *, field: str = "effective_from") -> datetime.date:
    if not isinstance(value, datetime.date) or isinstance(value, datetime.datetime):
        raise BillingError("Give the month as a date.", field=field)
    if value.day != 1:
        raise BillingError(
            "Prices change on the first day of a month: give the month.", field=field
        )
    return value


def price_plan_create(
    *,
    code: str,
    name: str,
    currency: str,
    charges: list[dict[str, Any]],
    actor: Actor,
    effective_from: datetime.date | None = None,
    product: Product | None = None,
) -> PricePlan:
    """A plan and its version 1, effective from `effective_from` (default: this month in the
    vendor's time zone; a new plan is not in use yet, so any month will do)."""
    code = clean_code(code)
    name = clean_text(name, field="name", label="A name", max_length=200, required=True)
    currency = clean_currency(currency)
    if product is not None and not isinstance(product, Product):
        raise BillingError("Choose a product of the catalog.", field="product")
    month = (
        first_of_month(today_for_vendor())
        if effective_from is None
        else _clean_month(effective_from)
    )
    cleaned = clean_charges(charges, currency=currency)
    try:
        with transaction.atomic():
            if PricePlan.objects.filter(code=code).exists():
                raise BillingError(f"There is already a price plan “{code}”.", field="code")
            plan = PricePlan.objects.create(
                code=code, name=name, currency=currency, product=product
            )
            version = _write_version(plan, number=1, effective_from=month, charges=cleaned)
            audit_record(
                actor=actor,
                action="price_plan.created",
                instance=plan,
                after={**snapshot(plan), **version_snapshot(version, cleaned)},
            )
    except IntegrityError as exc:  # a concurrent create of the same code
        if PricePlan.objects.filter(code=code).exists():
            raise BillingError(f"There is already a price plan “{code}”.", field="code") from exc
        raise
    return plan


def price_plan_revise(
    *,
    plan: PricePlan,
    charges: list[dict[str, Any]],
    effective_from: datetime.date,
    actor: Actor,
) -> PricePlanVersion:
    """New prices from a month that has not started (the next month at the earliest, in the
    vendor's time zone) and comes after the plan's latest version: what has been, or may
    have been, billed never changes."""
    month = _clean_month(effective_from)
    earliest = next_month(today_for_vendor())
    if month < earliest:
        raise BillingError(
            f"New prices start in a month that has not begun: {earliest:%Y-%m} at the earliest.",
            field="effective_from",
        )
    cleaned = clean_charges(charges, currency=plan.currency)
    with transaction.atomic():
        # One revision of a plan at a time: the version numbers stay gapless.
        locked = PricePlan.objects.select_for_update().get(pk=plan.pk)
        latest = locked.versions.order_by("-version").first()
        if latest is not None and month <= latest.effective_from:
            raise BillingError(
                f"Version {latest.version} starts in {latest.effective_from:%Y-%m}: new prices "
                "start in a later month.",
                field="effective_from",
            )
        version = _write_version(
            locked,
            number=(latest.version + 1) if latest else 1,
            effective_from=month,
            charges=cleaned,
        )
        audit_record(
            actor=actor,
            action="price_plan.revised",
            instance=locked,
            after=version_snapshot(version, cleaned),
        )
    return version
