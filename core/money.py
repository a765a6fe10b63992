"""Money: the only place in the code base that rounds an amount.

Rules (PRODUCT.md "Money"): `Decimal` only, never float; every amount has a currency; each line
amount is rounded to the currency's minor unit, half up; totals are sums of rounded lines; Stripe
gets integer minor units from one helper (`to_minor_units`).

"Half up" is Python's ROUND_HALF_UP: halves go away from zero, so round(-x) == -round(x) and a
credit mirrors the charge it reverses.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import NamedTuple

from babel.numbers import get_currency_precision, is_currency

HUNDRED = Decimal(100)
ZERO = Decimal(0)

# Effective unit prices (line amount / quantity) are shown with this many decimal places; charge
# prices are limited to it so a per-unit line shows its price exactly.
UNIT_PRICE_PLACES = 6


class MoneyError(ValueError):
    """An amount or currency that money arithmetic refuses."""


class CurrencyMismatch(MoneyError):
    pass


def require_decimal(value: object, name: str = "amount") -> Decimal:
    """`value` as a Decimal: ints are exact and accepted, floats (and strings) are refused."""
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise MoneyError(f"{name} must be a finite number, not {value}.")
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return Decimal(value)
    raise TypeError(f"{name} must be a Decimal (or int), not {type(value).__name__}.")


def check_currency(currency: str) -> str:
    """An ISO 4217 code Babel knows, upper case ("EUR"); anything else is refused."""
    if not isinstance(currency, str) or not currency.isupper() or not is_currency(currency):
        raise MoneyError(f"Unknown currency {currency!r}: use an ISO 4217 code such as EUR.")
    return currency


def minor_units(currency: str) -> int:
    """Decimal places of the currency's minor unit: JPY 0, EUR 2, KWD 3."""
    if not isinstance(currency, str):
        check_currency(currency)  # refuses it
    return _precision(currency)


# Babel's currency checks are slow (they rebuild the list of currencies) and rating rounds
# hundreds of thousands of amounts: remember each code's answer (a refusal raises, is not kept).
@functools.lru_cache(maxsize=512)
def _precision(currency: str) -> int:
    return get_currency_precision(check_currency(currency))


def _quantum(currency: str) -> Decimal:
    return _quantum_of(minor_units(currency))


@functools.lru_cache(maxsize=16)
def _quantum_of(places: int) -> Decimal:
    return Decimal(1).scaleb(-places)


def round_money(amount: Decimal | int, currency: str) -> Decimal:
    """`amount` rounded half up to the currency's minor unit (EUR 2.345 → 2.35, JPY 2.5 → 3)."""
    return require_decimal(amount).quantize(_quantum(currency), rounding=ROUND_HALF_UP)


def is_rounded(amount: Decimal, currency: str) -> bool:
    amount = require_decimal(amount)
    return amount == round_money(amount, currency)


def _require_rounded(amount: Decimal | int, currency: str, name: str = "amount") -> Decimal:
    amount = require_decimal(amount, name)
    if not is_rounded(amount, currency):
        raise MoneyError(
            f"{name} {amount} {currency} is not rounded to the minor unit "
            f"({minor_units(currency)} decimal places): round it with round_money first."
        )
    return amount


def to_minor_units(amount: Decimal | int, currency: str) -> int:
    """The integer Stripe wants (EUR 12.30 → 1230, JPY 500 → 500, KWD 1.234 → 1234).

    Refuses an amount that is not already rounded: silently rounding here would hide a line whose
    amount was never rounded the way the invoice shows it."""
    amount = _require_rounded(amount, currency)
    return int(amount.scaleb(minor_units(currency)))


def from_minor_units(units: int, currency: str) -> Decimal:
    """The inverse of `to_minor_units` (1230 EUR → Decimal("12.30"))."""
    if not isinstance(units, int) or isinstance(units, bool):
        raise TypeError(f"minor units must be an int, not {type(units).__name__}.")
    return Decimal(units).scaleb(-minor_units(currency)).quantize(_quantum(currency))


def percent_of(amount: Decimal | int, pct: Decimal | int, currency: str) -> Decimal:
    """round(amount × pct / 100), half up to the minor unit."""
    # scaleb(-2) divides by 100 exactly, whatever the context's precision.
    product = require_decimal(amount) * require_decimal(pct, "percentage").scaleb(-2)
    return round_money(product, currency)


def ratio_pct(part: Decimal | int, whole: Decimal | int, places: int = 2) -> Decimal | None:
    """part / whole × 100, half up to `places` decimals (a margin or a share in percent); None
    when `whole` is zero (no ratio to show)."""
    part = require_decimal(part, "part")
    whole = require_decimal(whole, "whole")
    if whole == 0:
        return None
    return (part * HUNDRED / whole).quantize(_quantum_of(places), rounding=ROUND_HALF_UP)


def effective_unit_price(amount: Decimal, quantity: Decimal) -> Decimal:
    """amount / quantity to UNIT_PRICE_PLACES, half up; 0 for a zero quantity (nothing to
    divide)."""
    amount = require_decimal(amount)
    quantity = require_decimal(quantity, "quantity")
    if quantity == 0:
        return ZERO.quantize(Decimal(1).scaleb(-UNIT_PRICE_PLACES))
    return (amount / quantity).quantize(
        Decimal(1).scaleb(-UNIT_PRICE_PLACES), rounding=ROUND_HALF_UP
    )


def _check_pct(pct: Decimal | int, name: str) -> Decimal:
    pct = require_decimal(pct, name)
    if not ZERO <= pct <= HUNDRED:
        raise MoneyError(f"{name} must be between 0 and 100, not {pct}.")
    return pct


@dataclass(frozen=True, slots=True)
class Money:
    amount: Decimal
    currency: str

    def __post_init__(self) -> None:
        require_decimal(self.amount)
        check_currency(self.currency)

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(round_money(ZERO, currency), currency)

    def _same_currency(self, other: object) -> Money:
        if not isinstance(other, Money):
            raise TypeError(f"Can only combine Money with Money, not {type(other).__name__}.")
        if other.currency != self.currency:
            raise CurrencyMismatch(f"Cannot combine {self.currency} with {other.currency}.")
        return other

    def __add__(self, other: Money) -> Money:
        return Money(self.amount + self._same_currency(other).amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        return Money(self.amount - self._same_currency(other).amount, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.amount, self.currency)

    def rounded(self) -> Money:
        return Money(round_money(self.amount, self.currency), self.currency)

    def minor_units(self) -> int:
        return to_minor_units(self.amount, self.currency)

    def __str__(self) -> str:
        return f"{self.amount} {self.currency}"


class LineTotals(NamedTuple):
    discount: Decimal
    net: Decimal


class InvoiceTotals(NamedTuple):
    subtotal: Decimal
    discount: Decimal
    tax: Decimal
    total: Decimal


def line_totals(amount: Decimal, discount_pct: Decimal | int, currency: str) -> LineTotals:
    """A line's tier discount and net amount (PRODUCT.md): discount = round(amount × discount %),
    net = amount − discount. `amount` is the line amount, already rounded."""
    amount = _require_rounded(amount, currency, "line amount")
    discount = percent_of(amount, _check_pct(discount_pct, "discount percentage"), currency)
    return LineTotals(discount=discount, net=amount - discount)


def invoice_totals(
    lines: Iterable[tuple[Decimal, Decimal]], tax_rate_pct: Decimal | int, currency: str
) -> InvoiceTotals:
    """Invoice totals from its lines' (amount, discount) pairs (PRODUCT.md): subtotal = Σ amount,
    discount = Σ discount, tax = round((subtotal − discount) × tax rate) — rounded once, on the
    total — and total = subtotal − discount + tax. Every line amount and discount must already be
    rounded, so the totals are sums of the rounded figures the lines show."""
    tax_rate_pct = _check_pct(tax_rate_pct, "tax rate")
    subtotal = round_money(ZERO, currency)
    discount = round_money(ZERO, currency)
    for line_amount, line_discount in lines:
        subtotal += _require_rounded(line_amount, currency, "line amount")
        discount += _require_rounded(line_discount, currency, "line discount")
    tax = percent_of(subtotal - discount, tax_rate_pct, currency)
    return InvoiceTotals(
        subtotal=subtotal, discount=discount, tax=tax, total=subtotal - discount + tax
    )
