"""How invoice figures read on pages and in the PDF (Babel, English): money as "€1,250.00" (the
project's one money format, `partners.evaluation.money`), effective unit prices with up to 6
decimals ("€0.0125"), quantities without trailing zeros ("1,500", "10.483871")."""

from __future__ import annotations

import datetime
from decimal import Decimal

from babel.numbers import format_currency, format_decimal

from core.money import UNIT_PRICE_PLACES, minor_units
from partners.evaluation import money

__all__ = ["money", "month_label", "quantity_text", "unit_price_text"]

LOCALE = "en"


def unit_price_text(value: Decimal, currency: str) -> str:
    """€0.50, €0.0125: the currency's digits at least, up to 6 when the price has them."""
    digits = minor_units(currency)
    pattern = "¤#,##0"
    if UNIT_PRICE_PLACES:
        pattern += "." + "0" * digits + "#" * (UNIT_PRICE_PLACES - digits)
    return format_currency(value, currency, format=pattern, currency_digits=False, locale=LOCALE)


def quantity_text(value: Decimal) -> str:
    return format_decimal(value, format="#,##0.######", locale=LOCALE)


def month_label(month: datetime.date) -> str:
    return f"{month:%B %Y}"
