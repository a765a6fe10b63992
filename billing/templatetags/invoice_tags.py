"""Template filters of the invoice pages: {{ line.unit_price|unit_price:currency }},
{{ line.quantity|quantity }} (money itself: `program_tags`' `money` filter)."""

from __future__ import annotations

from decimal import Decimal

from django import template

from billing.invoice_format import quantity_text, unit_price_text

register = template.Library()


@register.filter
def unit_price(value: Decimal | None, currency: str) -> str:
    if value is None or not currency:
        return ""
    return unit_price_text(Decimal(value), currency)


@register.filter
def quantity(value: Decimal | None) -> str:
    if value is None:
        return ""
    return quantity_text(Decimal(value))
