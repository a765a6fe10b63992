"""Forms of the console catalog: products, meters, price plans and the charge editor.

The forms check shapes (a choice is one of the choices, a month is a month); the catalog
services check every pricing rule and raise `BillingError` naming the field in the API's terms
(`charges[1].tiers[0].up_to`). `ChargesEditor.attach` puts such an error next to the input it is
about, so the editor shows each problem where it is, and everything typed stays on the page.

The charge editor posts plain fields: `charges-count`, then per charge `charges-<i>-<field>`,
`charges-<i>-tiers-count` and per tier `charges-<i>-tiers-<j>-<field>`. Submit buttons named
`action` add or remove a charge or a tier row (the page comes back with the change and nothing is
saved), so the editor works without JavaScript; a small script only hides the inputs the
chosen charge model does not use.
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django import forms

from billing.enums import TIERED_MODELS, Aggregation, ChargeModel, SeatCountingRule
from billing.errors import BillingError
from billing.models import Charge, Meter, PricePlanVersion, Product
from billing.services.catalog import MAX_CHARGES, MAX_TIERS, clean_charges

SEATS = "seats"
METER_PREFIX = "meter-"
BLANK_TIER_ROWS = 2  # rows a charge shows when it has no tiers yet


def add_service_error(form: forms.Form, error: BillingError) -> None:
    """Show a service's refusal next to the field it names (or above the form)."""
    name = error.field if error.field in form.fields else None
    form.add_error(name, str(error))


# --- months ----------------------------------------------------------------------------------


class MonthInput(forms.DateInput):
    """<input type="month">: browsers show a month picker; others accept YYYY-MM as text."""

    input_type = "month"

    def __init__(self, attrs: dict | None = None) -> None:
        super().__init__(attrs={"placeholder": "YYYY-MM", **(attrs or {})}, format="%Y-%m")


class MonthField(forms.Field):
    """A calendar month, as the date of its first day."""

    widget = MonthInput
    default_error_messages = {"invalid": "Give a month as YYYY-MM, e.g. 2026-05."}
    _pattern = re.compile(r"^(\d{4})-(\d{1,2})(?:-01)?$")

    def to_python(self, value: Any) -> datetime.date | None:
        if value in self.empty_values:
            return None
        if isinstance(value, datetime.date):
            return value.replace(day=1)
        match = self._pattern.match(str(value).strip())
        if not match:
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        year, month = int(match.group(1)), int(match.group(2))
        if not (1 <= month <= 12 and 1900 <= year <= 9999):
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        return datetime.date(year, month, 1)


# --- products and meters ---------------------------------------------------------------------


class ProductForm(forms.Form):
    code = forms.CharField(
        label="Code",
        max_length=64,
        help_text="Letters, digits, “_”, “.” or “-”; it never changes, e.g. backup.",
    )
    name = forms.CharField(label="Name", max_length=200)
    description = forms.CharField(
        label="Description", required=False, widget=forms.Textarea(attrs={"rows": 3})
    )

    def __init__(self, *args: Any, product: Product | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if product is not None:
            self.fields["code"].disabled = True
            self.fields["code"].help_text = "A product's code never changes."


class MeterForm(forms.Form):
    code = forms.CharField(
        label="Code",
        max_length=64,
        help_text="Usage events name the meter by it, e.g. storage_gb. It never changes.",
    )
    name = forms.CharField(label="Name", max_length=200)
    unit = forms.CharField(label="Unit", max_length=50, help_text="What one unit is: GB, device…")
    aggregation = forms.ChoiceField(
        label="Aggregation",
        choices=[("", "Choose…"), *Aggregation.choices],
        help_text="How a month's events of one client become one quantity.",
    )
    unique_property = forms.CharField(
        label="Unique property",
        max_length=100,
        required=False,
        help_text="For “Count of distinct property values” only: the event property whose "
        "distinct values are counted, e.g. device_id.",
    )
    product = forms.ModelChoiceField(
        label="Product",
        queryset=Product.objects.none(),
        required=False,
        empty_label="No product",
    )

    def __init__(
        self,
        *args: Any,
        meter: Meter | None = None,
        in_use: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fields["product"].queryset = Product.objects.order_by("name", "code")
        if meter is not None:
            self.fields["code"].disabled = True
            self.fields["code"].help_text = "Usage events name the meter by it: it never changes."
        if in_use:
            for name in ("aggregation", "unique_property"):
                self.fields[name].disabled = True
            self.fields["aggregation"].help_text = (
                "Price plans in effect bill this meter, so how it counts cannot change. "
                "Create a new meter to count differently."
            )


# --- price plans -----------------------------------------------------------------------------


class PlanForm(forms.Form):
    code = forms.CharField(
        label="Code", max_length=64, help_text="Integrations name the plan by it, e.g. backup-eur."
    )
    name = forms.CharField(label="Name", max_length=200)
    currency = forms.CharField(
        label="Currency",
        max_length=3,
        help_text="ISO 4217 code, e.g. EUR. It never changes; a partner subscribes its clients "
        "to plans in its own billing currency.",
        widget=forms.TextInput(attrs={"autocapitalize": "characters", "size": 4}),
    )
    product = forms.ModelChoiceField(
        label="Product", queryset=Product.objects.none(), required=False, empty_label="No product"
    )
    effective_from = MonthField(
        label="Prices from",
        required=False,
        help_text="The first month version 1 prices. Leave empty for this month.",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["product"].queryset = Product.objects.order_by("name", "code")


class ReviseForm(forms.Form):
    effective_from = MonthField(
        label="New prices from",
        help_text="A month that has not begun (next month at the earliest) and after the "
        "latest version's. Earlier months keep the prices they had.",
    )


# --- the charge editor -----------------------------------------------------------------------

_CHARGE_FIELDS = (
    "on",
    "model",
    "unit_price",
    "package_size",
    "package_price",
    "flat_fee",
    "pooled",
    "counting_rule",
)
_TIER_FIELDS = ("up_to", "unit_price", "flat_fee")
_MODEL_PRICE_FIELDS = {
    ChargeModel.PER_UNIT: ("unit_price",),
    ChargeModel.PACKAGE: ("package_size", "package_price"),
    ChargeModel.FLAT: ("flat_fee",),
}
_PATH = re.compile(r"^charges\[(\d+)\](?:\.(\w+)(?:\[(\d+)\](?:\.(\w+))?)?)?$")
# The service speaks the API's field names; the editor's inputs are labelled in words.
_REWORDED = {
    "The last tier has no upper bound: set up_to to null.": (
        "The last tier has no upper bound: leave “Up to” empty."
    ),
    "Only the last tier is open-ended; this one needs up_to.": (
        "Only the last tier is open-ended: give this tier its “Up to”."
    ),
    'Name a meter, or set "seats": true.': "Choose a meter, or seats.",
}


def _reword(message: str) -> str:
    message = _REWORDED.get(message, message)
    return message.replace("up_to", "“Up to”").replace("per_unit", "per-unit")


def _decimal_text(value: Decimal | None) -> str:
    """A stored price as typed: 0.050000 → 0.05, 3.000000 → 3."""
    if value is None:
        return ""
    if value == value.to_integral_value():
        return str(value.quantize(Decimal(1)))
    return format(value.normalize(), "f")


def _price_input(label: str, help_text: str = "") -> forms.CharField:
    return forms.CharField(
        label=label,
        required=False,
        help_text=help_text,
        widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}),
    )


def _count_input(label: str, help_text: str = "") -> forms.CharField:
    return forms.CharField(
        label=label,
        required=False,
        help_text=help_text,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )


class ChargeForm(forms.Form):
    on = forms.ChoiceField(
        label="Charged on",
        error_messages={"required": "Choose a meter, or seats."},
        widget=forms.Select(attrs={"data-charge-on": ""}),
    )
    model = forms.ChoiceField(
        label="Charge model",
        choices=[("", "Choose…"), *ChargeModel.choices],
        error_messages={"required": "Choose how this charge is priced."},
        widget=forms.Select(attrs={"data-charge-model": ""}),
    )
    unit_price = _price_input("Unit price", "Per unit; up to 6 decimals, e.g. 0.000125.")
    package_size = _count_input("Package size", "Units in one package, e.g. 100.")
    package_price = _price_input("Package price", "For each package started.")
    flat_fee = _price_input("Flat fee", "Per month.")
    pooled = forms.BooleanField(
        label="Pool the tiers over all of a partner's clients",
        required=False,
        help_text="The tier is found from the partner's total; the amount is shared back to "
        "its clients in proportion to their quantity.",
    )
    counting_rule = forms.ChoiceField(
        label="Seat counting rule",
        required=False,
        choices=[("", "Choose…"), *SeatCountingRule.choices],
        help_text="Daily average (prorated), the peak, or the quantity on the last day.",
    )

    def __init__(self, *args: Any, meters: list[Meter], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        meter_choices = [
            (f"{METER_PREFIX}{meter.pk}", f"{meter.name} ({meter.code}, per {meter.unit})")
            for meter in meters
        ]
        self.fields["on"].choices = [
            ("", "Choose…"),
            (SEATS, "Seats"),
            *([("Meters", meter_choices)] if meter_choices else []),
        ]
        self._meters = {f"{METER_PREFIX}{meter.pk}": meter for meter in meters}

    def meter(self) -> Meter | None:
        return self._meters.get(self.cleaned_data.get("on", ""))


class TierForm(forms.Form):
    up_to = _count_input("Up to")
    unit_price = _price_input("Unit price")
    flat_fee = _price_input("Flat fee")


@dataclass
class ChargeBlock:
    """One charge of the editor: its form, its tier rows and errors about the tiers as a list."""

    index: int
    form: ChargeForm
    tiers: list[TierForm]
    tier_errors: list[str] = field(default_factory=list)
    # The row each tier the service saw came from (blank rows are left out).
    tier_rows: list[int] = field(default_factory=list)

    @property
    def number(self) -> int:
        return self.index + 1

    @property
    def prefix(self) -> str:
        return f"charges-{self.index}"

    @property
    def has_errors(self) -> bool:
        return bool(
            self.tier_errors
            or (self.form.is_bound and self.form.errors)
            or any(tier.is_bound and tier.errors for tier in self.tiers)
        )


def _blank_charge() -> dict[str, Any]:
    return {
        "on": "",
        "model": "",
        "unit_price": "",
        "package_size": "",
        "package_price": "",
        "flat_fee": "",
        "pooled": False,
        "counting_rule": "",
        "tiers": [_blank_tier() for _ in range(BLANK_TIER_ROWS)],
    }


def _blank_tier() -> dict[str, str]:
    return {"up_to": "", "unit_price": "", "flat_fee": ""}


def charges_of_version(version: PricePlanVersion | None) -> list[dict[str, Any]]:
    """A version's charges as the editor's starting values (a revision starts from them)."""
    if version is None:
        return [_blank_charge()]
    values = []
    charge: Charge
    for charge in version.charges.all():
        values.append(
            {
                "on": SEATS if charge.seats else f"{METER_PREFIX}{charge.meter_id}",
                "model": charge.model,
                "unit_price": _decimal_text(charge.unit_price),
                "package_size": "" if charge.package_size is None else str(charge.package_size),
                "package_price": _decimal_text(charge.package_price),
                "flat_fee": _decimal_text(charge.flat_fee),
                "pooled": charge.pooled,
                "counting_rule": charge.counting_rule,
                "tiers": [
                    {
                        "up_to": "" if tier.up_to is None else str(tier.up_to),
                        "unit_price": _decimal_text(tier.unit_price),
                        "flat_fee": _decimal_text(tier.flat_fee),
                    }
                    for tier in charge.tiers.all()
                ],
            }
        )
    return values or [_blank_charge()]


def _count(data: Any, key: str, limit: int) -> int:
    try:
        return max(0, min(int(data.get(key, 0)), limit))
    except (TypeError, ValueError):
        return 0


def _read_charges(data: Any) -> list[dict[str, Any]]:
    """The charges as posted (raw strings), whatever they hold."""
    charges = []
    for i in range(_count(data, "charges-count", MAX_CHARGES)):
        prefix = f"charges-{i}"
        values: dict[str, Any] = {
            name: str(data.get(f"{prefix}-{name}", "")) for name in _CHARGE_FIELDS
        }
        values["pooled"] = data.get(f"{prefix}-pooled") in ("on", "true", "1", "True")
        values["tiers"] = [
            {name: str(data.get(f"{prefix}-tiers-{j}-{name}", "")) for name in _TIER_FIELDS}
            for j in range(_count(data, f"{prefix}-tiers-count", MAX_TIERS))
        ]
        charges.append(values)
    return charges


def _apply_action(charges: list[dict[str, Any]], action: str) -> None:
    """Add or remove a charge or a tier row, in place; unknown actions change nothing."""
    parts = action.split("-")
    try:
        numbers = [int(part) for part in parts[1:]]
    except ValueError:
        return
    verb = parts[0]
    if verb == "add_charge" and len(charges) < MAX_CHARGES:
        charges.append(_blank_charge())
    elif verb == "remove_charge" and len(numbers) == 1 and 0 <= numbers[0] < len(charges):
        charges.pop(numbers[0])
    elif verb == "add_tier" and len(numbers) == 1 and 0 <= numbers[0] < len(charges):
        tiers = charges[numbers[0]]["tiers"]
        if len(tiers) < MAX_TIERS:
            tiers.append(_blank_tier())
    elif verb == "remove_tier" and len(numbers) == 2 and 0 <= numbers[0] < len(charges):
        tiers = charges[numbers[0]]["tiers"]
        if 0 <= numbers[1] < len(tiers):
            tiers.pop(numbers[1])


def _flatten(charges: list[dict[str, Any]]) -> dict[str, Any]:
    data: dict[str, Any] = {"charges-count": str(len(charges))}
    for i, charge in enumerate(charges):
        prefix = f"charges-{i}"
        for name in _CHARGE_FIELDS:
            value = charge.get(name, "")
            if name == "pooled":
                if value:
                    data[f"{prefix}-pooled"] = "on"
            else:
                data[f"{prefix}-{name}"] = value
        data[f"{prefix}-tiers-count"] = str(len(charge["tiers"]))
        for j, tier in enumerate(charge["tiers"]):
            for name in _TIER_FIELDS:
                data[f"{prefix}-tiers-{j}-{name}"] = tier.get(name, "")
    return data


class ChargesEditor:
    """The charges of a price plan version being written.

    `ChargesEditor(meters=…, initial=[…])` shows starting values; `ChargesEditor(request.POST,
    meters=…)` reads what was posted and applies its `action` (add / remove a charge or a tier
    row). `is_save` says whether the user asked to save; then `validate(currency)` checks every
    charge (one problem per charge at a time, each next to its input) and `charges()` gives the
    service's input.
    """

    def __init__(
        self,
        data: Any = None,
        *,
        meters: list[Meter],
        initial: list[dict[str, Any]] | None = None,
    ) -> None:
        self.meters = meters
        self.errors: list[str] = []
        action = str(data.get("action", "save")) if data is not None else ""
        self.is_save = data is not None and action == "save"
        if data is None:
            values = [dict(c, tiers=list(c["tiers"])) for c in (initial or [_blank_charge()])]
        else:
            values = _read_charges(data)
            if not self.is_save:
                _apply_action(values, action)
        for charge in values:
            if not charge["tiers"]:
                charge["tiers"] = [_blank_tier() for _ in range(BLANK_TIER_ROWS)]
        self.values = values
        bound = _flatten(values) if self.is_save else None
        self.blocks = [self._block(i, charge, bound) for i, charge in enumerate(values)]

    def _block(self, index: int, charge: dict[str, Any], bound: dict | None) -> ChargeBlock:
        prefix = f"charges-{index}"
        if bound is not None:
            form = ChargeForm(bound, prefix=prefix, meters=self.meters)
            tiers = [
                TierForm(bound, prefix=f"{prefix}-tiers-{j}") for j in range(len(charge["tiers"]))
            ]
        else:
            form = ChargeForm(prefix=prefix, meters=self.meters, initial=charge)
            tiers = [
                TierForm(prefix=f"{prefix}-tiers-{j}", initial=tier)
                for j, tier in enumerate(charge["tiers"])
            ]
        return ChargeBlock(index=index, form=form, tiers=tiers)

    @property
    def count(self) -> int:
        return len(self.blocks)

    @property
    def can_add_charge(self) -> bool:
        return self.count < MAX_CHARGES

    @property
    def has_errors(self) -> bool:
        return bool(self.errors) or any(block.has_errors for block in self.blocks)

    # --- the service's input ---

    def _charge(self, block: ChargeBlock) -> dict[str, Any]:
        """One charge as the service takes it: only the fields its model uses."""
        data = block.form.cleaned_data
        model = data["model"]
        meter = block.form.meter()
        charge: dict[str, Any] = {"model": model}
        if meter is not None:
            charge["meter"] = meter
        else:
            charge["seats"] = True
            charge["counting_rule"] = data.get("counting_rule", "")
        for name in _MODEL_PRICE_FIELDS.get(model, ()):
            charge[name] = data.get(name, "").strip()
        if model in TIERED_MODELS:
            charge["pooled"] = bool(data.get("pooled"))
            tiers = []
            block.tier_rows = []
            for row, tier in enumerate(block.tiers):
                tier.is_valid()
                values = {name: tier.cleaned_data.get(name, "").strip() for name in _TIER_FIELDS}
                if not any(values.values()):
                    continue  # a blank row
                block.tier_rows.append(row)
                tiers.append(
                    {
                        "up_to": values["up_to"] or None,
                        "unit_price": values["unit_price"],
                        "flat_fee": values["flat_fee"],
                    }
                )
            charge["tiers"] = tiers
        return charge

    def validate(self, currency: str | None) -> bool:
        """Check every charge; with a valid `currency`, against the catalog's rules too."""
        if not self.blocks:
            self.errors.append("A price plan needs at least one charge: add one.")
            return False
        for block in self.blocks:
            if not block.form.is_valid():
                continue
            for tier in block.tiers:
                tier.is_valid()
            if currency is None:
                continue
            try:
                clean_charges([self._charge(block)], currency=currency)
            except BillingError as exc:
                self.attach(exc, offset=block.index)
        return not self.has_errors

    def charges(self) -> list[dict[str, Any]]:
        return [self._charge(block) for block in self.blocks]

    def attach(self, error: BillingError, *, offset: int = 0) -> bool:
        """Put a service error about `charges…` next to its input. False: not about charges.
        `offset`: the index of the charge when the service saw it alone."""
        name = error.field or ""
        message = _reword(str(error))
        if name == "charges":
            self.errors.append(message)
            return True
        match = _PATH.match(name)
        if not match:
            return False
        index = int(match.group(1)) + offset
        if index >= len(self.blocks):
            self.errors.append(message)
            return True
        block = self.blocks[index]
        part, row, tier_field = match.group(2), match.group(3), match.group(4)
        if part is None:
            block.form.add_error(None, message)
        elif part in ("meter", "seats"):
            block.form.add_error("on", message)
        elif part == "tiers" and row is None:
            block.tier_errors.append(message)
        elif part == "tiers":
            position = int(row)
            if position < len(block.tier_rows):
                position = block.tier_rows[position]
            tier = block.tiers[position] if position < len(block.tiers) else None
            if tier is not None and tier_field in tier.fields:
                tier.add_error(tier_field, message)
            else:
                block.tier_errors.append(message)
        elif part in block.form.fields:
            block.form.add_error(part, message)
        else:
            block.form.add_error(None, message)
        return True
