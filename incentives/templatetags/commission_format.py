"""`{{ rate|plain_number }}`: a Decimal without trailing zeros and never in exponent form
(12.5000 → 12.5, 20.0000 → 20)."""

from decimal import Decimal

from django import template

register = template.Library()


@register.filter
def plain_number(value: object) -> str:
    if not isinstance(value, Decimal):
        return "" if value is None else str(value)
    text = format(value.normalize(), "f")
    return text
