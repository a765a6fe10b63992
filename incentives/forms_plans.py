"""Forms of the commission plan and growth bonus rule pages: shapes only (numbers are numbers, a
month is a month); the services check the rules and their refusals are shown on the field they
name."""

from __future__ import annotations

from decimal import Decimal

from django import forms

from billing.forms_catalog import MonthField
from billing.models import Product
from partners.models import Tier

from .errors import IncentivesError
from .models import CommissionBasis

BAND_ROWS = 5


def _rate_field(label: str, *, required: bool, initial: Decimal | None = None) -> forms.Field:
    return forms.DecimalField(
        label=label,
        required=required,
        min_value=Decimal(0),
        max_value=Decimal(100),
        decimal_places=4,
        initial=initial,
        widget=forms.NumberInput(attrs={"step": "0.0001", "inputmode": "decimal"}),
    )


class CommissionPlanForm(forms.Form):
    name = forms.CharField(max_length=200)
    effective_from = MonthField(
        label="Effective from", help_text="The first month the plan applies to (YYYY-MM)."
    )
    basis = forms.ChoiceField(
        choices=CommissionBasis.choices,
        widget=forms.RadioSelect,
        initial=CommissionBasis.BILLED,
        help_text="Billed: commission accrues when the month is finalized. Collected: when the "
        "partner pays the invoice.",
    )
    minimum_payout = forms.DecimalField(
        label="Minimum payout",
        min_value=Decimal(0),
        decimal_places=2,
        initial=Decimal("0"),
        help_text="Smaller balances are carried forward to the next statement.",
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.tiers = list(Tier.objects.select_related("track").order_by("track__name", "rank"))
        self.products = list(Product.objects.order_by("name", "code"))
        for tier in self.tiers:
            self.fields[f"tier_{tier.pk}"] = _rate_field(
                f"{tier.track.name} · {tier.name} (%)",
                required=True,
                initial=tier.commission_rate_pct,
            )
        for product in self.products:
            self.fields[f"product_{product.pk}"] = _rate_field(
                f"{product.name} (%)", required=False
            )
        for row in range(BAND_ROWS):
            self.fields[f"band_{row}_min_mrr"] = forms.DecimalField(
                label=f"Band {row + 1}: MRR from", required=False, min_value=0, decimal_places=2
            )
            self.fields[f"band_{row}_multiplier"] = forms.DecimalField(
                label=f"Band {row + 1}: multiplier",
                required=False,
                min_value=Decimal("0.001"),
                decimal_places=3,
            )

    def tier_fields(self):
        return [self[f"tier_{t.pk}"] for t in self.tiers]

    def product_fields(self):
        return [self[f"product_{p.pk}"] for p in self.products]

    def band_rows(self):
        return [
            (self[f"band_{row}_min_mrr"], self[f"band_{row}_multiplier"])
            for row in range(BAND_ROWS)
        ]

    def clean(self):
        data = super().clean()
        for row in range(BAND_ROWS):
            low, factor = data.get(f"band_{row}_min_mrr"), data.get(f"band_{row}_multiplier")
            if (low is None) != (factor is None) and not self.has_error(f"band_{row}_min_mrr"):
                self.add_error(
                    f"band_{row}_multiplier" if factor is None else f"band_{row}_min_mrr",
                    "Give both the MRR and the multiplier of a band, or neither.",
                )
        return data

    def service_arguments(self) -> dict:
        data = self.cleaned_data
        return {
            "name": data["name"],
            "effective_from": data["effective_from"],
            "basis": data["basis"],
            "minimum_payout": data["minimum_payout"],
            "tier_rates": {t.pk: data[f"tier_{t.pk}"] for t in self.tiers},
            "product_rates": {
                p.pk: data[f"product_{p.pk}"]
                for p in self.products
                if data.get(f"product_{p.pk}") is not None
            },
            "accelerators": [
                (data[f"band_{row}_min_mrr"], data[f"band_{row}_multiplier"])
                for row in range(BAND_ROWS)
                if data.get(f"band_{row}_min_mrr") is not None
            ],
        }

    def add_service_error(self, error: IncentivesError) -> None:
        field = error.field or ""
        target = None
        if field.startswith("tier_rates["):
            index = int(field.split("[")[1].split("]")[0])
            target = f"tier_{self.tiers[index].pk}" if index < len(self.tiers) else None
        elif field.startswith("accelerators["):
            index = int(field.split("[")[1].split("]")[0])
            part = "multiplier" if field.endswith("multiplier") else "min_mrr"
            rows = [
                r
                for r in range(BAND_ROWS)
                if self.cleaned_data.get(f"band_{r}_min_mrr") is not None
            ]
            target = f"band_{rows[index]}_{part}" if index < len(rows) else None
        elif field in self.fields:
            target = field
        self.add_error(target, str(error))


class GrowthBonusRuleForm(forms.Form):
    name = forms.CharField(max_length=200)
    effective_from = MonthField(label="Effective from", help_text="YYYY-MM")
    currency = forms.CharField(
        max_length=3,
        help_text="The new-client bonus is paid to partners billed in this currency.",
    )
    new_client_months = forms.IntegerField(
        label="Months a new client must stay paying", min_value=1, max_value=24, initial=3
    )
    new_client_bonus = forms.DecimalField(
        label="New-client bonus", min_value=Decimal(0), decimal_places=3, initial=Decimal("0")
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        for row in range(BAND_ROWS):
            self.fields[f"band_{row}_min_growth_pct"] = forms.DecimalField(
                label=f"Band {row + 1}: growth from (%)",
                required=False,
                min_value=Decimal(0),
                decimal_places=4,
            )
            self.fields[f"band_{row}_rate_pct"] = _rate_field(
                f"Band {row + 1}: bonus rate (% of growth)", required=False
            )

    def band_rows(self):
        return [
            (self[f"band_{row}_min_growth_pct"], self[f"band_{row}_rate_pct"])
            for row in range(BAND_ROWS)
        ]

    def clean_currency(self) -> str:
        return self.cleaned_data["currency"].strip().upper()

    def clean(self):
        data = super().clean()
        for row in range(BAND_ROWS):
            low, rate = data.get(f"band_{row}_min_growth_pct"), data.get(f"band_{row}_rate_pct")
            if (low is None) != (rate is None):
                self.add_error(
                    f"band_{row}_rate_pct" if rate is None else f"band_{row}_min_growth_pct",
                    "Give both the growth and the rate of a band, or neither.",
                )
        return data

    def service_arguments(self) -> dict:
        data = self.cleaned_data
        return {
            "name": data["name"],
            "effective_from": data["effective_from"],
            "currency": data["currency"],
            "new_client_months": data["new_client_months"],
            "new_client_bonus": data["new_client_bonus"],
            "bands": [
                (data[f"band_{row}_min_growth_pct"], data[f"band_{row}_rate_pct"])
                for row in range(BAND_ROWS)
                if data.get(f"band_{row}_min_growth_pct") is not None
            ],
        }

    def add_service_error(self, error: IncentivesError) -> None:
        field = error.field or ""
        target = field if field in self.fields else None
        if field.startswith("bands["):
            index = int(field.split("[")[1].split("]")[0])
            part = "rate_pct" if field.endswith("rate_pct") else "min_growth_pct"
            rows = [
                r
                for r in range(BAND_ROWS)
                if self.cleaned_data.get(f"band_{r}_min_growth_pct") is not None
            ]
            target = f"band_{rows[index]}_{part}" if index < len(rows) else None
        self.add_error(target, str(error))
