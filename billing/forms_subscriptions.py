"""Forms of the subscription pages (portal and console). They check types; the subscription
services check the rules and name the field they refuse, which `add_service_error` puts next to it.

A client's page shows several of these forms at once (one per subscription), so each form gets
its own `auto_id` for unique input ids; the posted field names stay plain.
"""

from __future__ import annotations

from typing import Any

from django import forms

from billing.models import PricePlan
from billing.services.subscriptions import MAX_SEATS


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self) -> None:
        super().__init__(format="%Y-%m-%d")


def _seats(label: str, help_text: str = "") -> forms.IntegerField:
    return forms.IntegerField(
        label=label,
        min_value=0,
        max_value=MAX_SEATS,
        help_text=help_text,
        error_messages={"invalid": "Seats are a whole number, e.g. 25."},
    )


def _date(label: str, help_text: str = "") -> forms.DateField:
    return forms.DateField(
        label=label,
        widget=DateInput(),
        help_text=help_text,
        error_messages={"invalid": "Give a date as YYYY-MM-DD."},
    )


class PlanChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: PricePlan) -> str:
        return f"{obj.name} ({obj.code}, {obj.currency})"


class SubscriptionCreateForm(forms.Form):
    price_plan = PlanChoiceField(
        label="Price plan",
        queryset=PricePlan.objects.none(),
        empty_label="Choose a plan…",
        error_messages={
            "required": "Choose a price plan.",
            "invalid_choice": "Choose one of the plans listed.",
        },
    )
    quantity = _seats("Seats", "How many seats from the start date.")
    started_on = _date("Start date", "The first day billed.")

    def __init__(self, *args: Any, currency: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Plans in the partner's billing currency only: an invoice has one currency.
        self.fields["price_plan"].queryset = (
            PricePlan.objects.filter(currency=currency).order_by("name", "code")
            if currency
            else PricePlan.objects.none()
        )


class QuantityChangeForm(forms.Form):
    quantity = _seats("New number of seats")
    effective_on = _date(
        "From", "The first day with the new number. A second change on one day replaces the first."
    )


class SubscriptionEndForm(forms.Form):
    ended_on = _date("Last day billed")
