"""Forms of the margin pages: the month selector and the resale price form (for a product, or a
client override). They check shape only; `reporting.services.resale_prices` decides the rest and
its errors are attached to the form's fields by the view."""

from __future__ import annotations

from django import forms

from billing.api.invoices import MonthFormField
from billing.models import Product
from partners.models import Client, Partner

from .enums import ResalePriceKind
from .selectors import BilledMonth


class MonthForm(forms.Form):
    month = forms.ChoiceField(label="Month")

    def __init__(self, *args, months: list[BilledMonth], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["month"].choices = [(m.value, m.label) for m in months]
        self.fields["month"].error_messages["invalid_choice"] = (
            "Nothing was billed for that month: choose one from the list."
        )


class ResalePriceForm(forms.Form):
    # "product": the product's price for every client; "client": an override for one client.
    scope = forms.ChoiceField(
        choices=[("product", "product"), ("client", "client")], widget=forms.HiddenInput
    )
    product = forms.ModelChoiceField(
        label="Product", queryset=Product.objects.order_by("name", "code")
    )
    client = forms.ModelChoiceField(
        label="Client",
        queryset=Client.objects.none(),
        required=False,
        empty_label="Choose a client",
    )
    kind = forms.ChoiceField(label="Pricing", choices=ResalePriceKind.choices)
    fixed_price = forms.CharField(
        label="Monthly price", required=False, help_text="Per client, for a fixed price."
    )
    markup_pct = forms.CharField(
        label="Markup %", required=False, help_text="Added to the vendor cost, for a markup."
    )
    effective_from = MonthFormField(
        label="From month",
        help_text="The first month the price applies to (YYYY-MM); earlier months keep theirs.",
        widget=forms.TextInput(attrs={"type": "month", "placeholder": "2026-10"}),
    )

    def __init__(self, *args, partner: Partner, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.partner = partner
        self.fields["client"].queryset = Client.objects.filter(partner=partner).order_by(
            "name", "pk"
        )
        self.fields["fixed_price"].label = f"Monthly price ({partner.currency})"

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("scope") == "client" and not cleaned.get("client"):
            self.add_error("client", "Choose the client this price is for.")
        if cleaned.get("scope") == "product":
            cleaned["client"] = None
        if cleaned.get("effective_from") is None and "effective_from" not in self.errors:
            self.add_error("effective_from", "Give the first month the price applies to.")
        return cleaned
