from decimal import Decimal as D

import pytest

from core.money import (
    CurrencyMismatch,
    Money,
    MoneyError,
    effective_unit_price,
    from_minor_units,
    invoice_totals,
    line_totals,
    minor_units,
    percent_of,
    round_money,
    to_minor_units,
)


def test_minor_units_come_from_babel():
    assert (minor_units("JPY"), minor_units("EUR"), minor_units("USD"), minor_units("KWD")) == (
        0,
        2,
        2,
        3,
    )


@pytest.mark.parametrize("currency", ["eur", "ZZZ", "EURO", ""])
def test_unknown_currencies_are_refused(currency):
    with pytest.raises(MoneyError, match="Unknown currency"):
        minor_units(currency)


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        ("2.345", "EUR", "2.35"),
        ("2.344999", "EUR", "2.34"),
        ("2.355", "EUR", "2.36"),  # half up, not banker's (which would give 2.36 too) …
        ("2.365", "EUR", "2.37"),  # … here banker's rounding would give 2.36
        ("0.005", "EUR", "0.01"),
        ("0.0049", "EUR", "0.00"),
        ("-2.345", "EUR", "-2.35"),  # halves go away from zero: a credit mirrors its charge
        ("2.5", "JPY", "3"),
        ("3.5", "JPY", "4"),
        ("1499.49", "JPY", "1499"),
        ("1.2345", "KWD", "1.235"),
        ("1.2344", "KWD", "1.234"),
        ("7", "EUR", "7.00"),
    ],
)
def test_round_money_is_half_up_to_the_minor_unit(amount, currency, expected):
    result = round_money(D(amount), currency)
    assert result == D(expected)
    assert str(result) == expected  # the exponent is the currency's, too


def test_round_money_accepts_ints_and_refuses_floats():
    assert str(round_money(3, "EUR")) == "3.00"
    with pytest.raises(TypeError, match="Decimal"):
        round_money(0.1, "EUR")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        round_money("0.1", "EUR")  # type: ignore[arg-type]
    with pytest.raises(MoneyError, match="finite"):
        round_money(D("NaN"), "EUR")


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        ("12.30", "EUR", 1230),
        ("12.3", "EUR", 1230),
        ("0", "EUR", 0),
        ("500", "JPY", 500),
        ("1.234", "KWD", 1234),
        ("-4.05", "EUR", -405),
    ],
)
def test_to_minor_units(amount, currency, expected):
    assert to_minor_units(D(amount), currency) == expected
    assert from_minor_units(expected, currency) == D(amount)


@pytest.mark.parametrize(
    ("amount", "currency"), [("12.305", "EUR"), ("1.5", "JPY"), ("1.2345", "KWD")]
)
def test_to_minor_units_refuses_an_unrounded_amount(amount, currency):
    with pytest.raises(MoneyError, match="not rounded"):
        to_minor_units(D(amount), currency)


def test_from_minor_units_has_the_currency_exponent():
    assert str(from_minor_units(1230, "EUR")) == "12.30"
    assert str(from_minor_units(5, "KWD")) == "0.005"
    assert str(from_minor_units(500, "JPY")) == "500"


def test_percent_of_rounds_half_up():
    assert percent_of(D("19.99"), D("12.5"), "EUR") == D("2.50")  # 2.49875
    assert percent_of(D("10.10"), D("5"), "EUR") == D("0.51")  # 0.505
    assert percent_of(D("333"), D("7"), "JPY") == D("23")  # 23.31
    assert percent_of(D("0.010"), D("50"), "KWD") == D("0.005")


def test_effective_unit_price():
    assert effective_unit_price(D("150"), D("150")) == D("1")
    assert str(effective_unit_price(D("10"), D("3"))) == "3.333333"
    assert str(effective_unit_price(D("20"), D("3"))) == "6.666667"
    assert str(effective_unit_price(D("5"), D("0"))) == "0.000000"


def test_money_adds_and_subtracts_only_one_currency():
    total = Money(D("1.10"), "EUR") + Money(D("2.25"), "EUR") - Money(D("0.35"), "EUR")
    assert total == Money(D("3.00"), "EUR")
    assert -total == Money(D("-3.00"), "EUR")
    assert Money.zero("JPY") == Money(D("0"), "JPY")
    assert Money(D("1.005"), "EUR").rounded() == Money(D("1.01"), "EUR")
    assert Money(D("1.01"), "EUR").minor_units() == 101
    with pytest.raises(CurrencyMismatch, match="EUR with USD"):
        Money(D("1"), "EUR") + Money(D("1"), "USD")
    with pytest.raises(CurrencyMismatch):
        Money(D("1"), "EUR") - Money(D("1"), "JPY")
    with pytest.raises(TypeError):
        Money(D("1"), "EUR") + D("1")  # type: ignore[operator]
    with pytest.raises(TypeError):
        Money(1.5, "EUR")  # type: ignore[arg-type]
    with pytest.raises(MoneyError):
        Money(D("1"), "XYZ")


def test_line_totals():
    assert line_totals(D("150.00"), D("15"), "EUR") == (D("22.50"), D("127.50"))
    assert line_totals(D("10.10"), D("5"), "EUR") == (D("0.51"), D("9.59"))  # 0.505 → 0.51
    assert line_totals(D("99.99"), D("0"), "EUR") == (D("0.00"), D("99.99"))
    assert line_totals(D("999"), D("33.3"), "JPY") == (D("333"), D("666"))  # 332.667
    assert line_totals(D("1.001"), D("50"), "KWD") == (D("0.501"), D("0.500"))  # 0.5005


def test_line_totals_refuse_unrounded_amounts_and_bad_percentages():
    with pytest.raises(MoneyError, match="not rounded"):
        line_totals(D("10.005"), D("10"), "EUR")
    with pytest.raises(MoneyError, match="between 0 and 100"):
        line_totals(D("10.00"), D("101"), "EUR")
    with pytest.raises(MoneyError, match="between 0 and 100"):
        line_totals(D("10.00"), D("-1"), "EUR")


def test_invoice_totals_sum_rounded_lines_and_round_tax_once():
    # Three lines of 10.10 with a 5 % discount: each discount 0.505 → 0.51 (rounded per line), so
    # the invoice discount is 1.53, not round(30.30 × 5 %) = 1.52.
    lines = [(D("10.10"), line_totals(D("10.10"), 5, "EUR").discount)] * 3
    totals = invoice_totals(lines, D("19"), "EUR")
    # tax = round((30.30 − 1.53) × 19 %) = round(5.4663) = 5.47
    assert totals == (D("30.30"), D("1.53"), D("5.47"), D("34.24"))
    assert totals.total == totals.subtotal - totals.discount + totals.tax


def test_invoice_totals_round_the_tax_half_up_once():
    # Two lines whose taxes rounded per line would be 0.01 + 0.01; on the total it is 0.01.
    totals = invoice_totals([(D("0.05"), D("0")), (D("0.05"), D("0"))], D("10"), "EUR")
    assert totals == (D("0.10"), D("0.00"), D("0.01"), D("0.11"))
    totals = invoice_totals([(D("0.05"), D("0"))], D("10"), "EUR")  # 0.005 → 0.01
    assert totals == (D("0.05"), D("0.00"), D("0.01"), D("0.06"))


def test_invoice_totals_in_jpy_and_kwd_and_empty():
    assert invoice_totals([(D("1000"), D("150"))], D("10"), "JPY") == (
        D("1000"),
        D("150"),
        D("85"),
        D("935"),
    )
    assert invoice_totals([(D("1.000"), D("0.105"))], D("5"), "KWD") == (
        D("1.000"),
        D("0.105"),
        D("0.045"),  # 0.04475
        D("0.940"),
    )
    assert invoice_totals([], D("20"), "EUR") == (D("0"), D("0"), D("0"), D("0"))


def test_invoice_totals_refuse_unrounded_lines():
    with pytest.raises(MoneyError, match="line amount"):
        invoice_totals([(D("1.001"), D("0"))], D("0"), "EUR")
    with pytest.raises(MoneyError, match="line discount"):
        invoice_totals([(D("1.00"), D("0.001"))], D("0"), "EUR")
    with pytest.raises(MoneyError, match="tax rate"):
        invoice_totals([(D("1.00"), D("0"))], D("100.5"), "EUR")
