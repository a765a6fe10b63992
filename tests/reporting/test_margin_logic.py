"""The pure margin rules (reporting/margin.py) and the percentage rounding in core.money, without
a database: which price applies (history, overrides, inherit), what a price earns (fixed once per
billed client, markup rounded half up once per client and product), and a month's figures."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest

from core.money import MoneyError, ratio_pct
from reporting.margin import (
    ClientInfo,
    Credit,
    PriceBook,
    PriceRule,
    Usage,
    month_margin,
    resale_revenue,
)

D = datetime.date
BACKUP, MAIL = 1, 2
KIWI, LIME = 10, 20


def rule(product, client, month, kind, value=None) -> PriceRule:
    return PriceRule(
        product_id=product,
        client_id=client,
        effective_from=month,
        kind=kind,
        fixed_price=Decimal(value) if kind == "fixed" else None,
        markup_pct=Decimal(value) if kind == "markup" else None,
    )


BOOK = PriceBook(
    [
        rule(BACKUP, None, D(2026, 3, 1), "markup", "20"),
        rule(BACKUP, None, D(2026, 1, 1), "markup", "10"),
        rule(BACKUP, LIME, D(2026, 2, 1), "fixed", "80"),
        rule(BACKUP, LIME, D(2026, 4, 1), "inherit"),
        rule(BACKUP, LIME, D(2026, 6, 1), "fixed", "90"),
    ]
)


@pytest.mark.parametrize(
    ("client", "month", "expected"),
    [
        (KIWI, D(2025, 12, 1), None),  # before any price
        (KIWI, D(2026, 1, 1), ("markup", Decimal("10"))),
        (KIWI, D(2026, 2, 1), ("markup", Decimal("10"))),
        (KIWI, D(2026, 3, 1), ("markup", Decimal("20"))),
        (LIME, D(2026, 1, 1), ("markup", Decimal("10"))),  # override not started yet
        (LIME, D(2026, 2, 1), ("fixed", Decimal("80"))),  # the override wins
        (LIME, D(2026, 3, 1), ("fixed", Decimal("80"))),  # even over a newer product price
        (LIME, D(2026, 4, 1), ("markup", Decimal("20"))),  # "inherit" ends the override
        (LIME, D(2026, 5, 1), ("markup", Decimal("20"))),
        (LIME, D(2026, 6, 1), ("fixed", Decimal("90"))),  # a new override
    ],
)
def test_which_price_applies(client, month, expected):
    found = BOOK.rule_for(BACKUP, client, month)
    if expected is None:
        assert found is None
        return
    kind, value = expected
    assert found.kind == kind
    assert (found.fixed_price if kind == "fixed" else found.markup_pct) == value


def test_a_product_without_any_price_is_unpriced():
    assert BOOK.rule_for(MAIL, KIWI, D(2026, 6, 1)) is None
    assert not PriceBook([])
    assert BOOK.product_rule(BACKUP, D(2026, 2, 1)).markup_pct == Decimal("10")


def test_what_a_price_earns():
    fixed = rule(MAIL, None, D(2026, 1, 1), "fixed", "30.00")
    markup = rule(BACKUP, None, D(2026, 1, 1), "markup", "12.5")
    assert resale_revenue(fixed, cost=Decimal("45.00"), billed=True, currency="EUR") == Decimal(
        "30.00"
    )
    # Only prior-period adjustment lines: the fixed price was charged in its own month.
    assert resale_revenue(fixed, cost=Decimal("9.00"), billed=False, currency="EUR") == 0
    # 10.01 × 12.5 % = 1.25125 → 1.25 (half up, once)
    assert resale_revenue(markup, cost=Decimal("10.01"), billed=True, currency="EUR") == Decimal(
        "11.26"
    )
    # 0.04 × 12.5 % = 0.005 → 0.01: half up
    assert resale_revenue(markup, cost=Decimal("0.04"), billed=True, currency="EUR") == Decimal(
        "0.05"
    )
    # JPY has no minor unit: 999 × 12.5 % = 124.875 → 125
    assert resale_revenue(markup, cost=Decimal("999"), billed=True, currency="JPY") == Decimal(
        "1124"
    )
    # A negative cost (an adjustment month) is marked up symmetrically: −(0.005) → −0.01
    assert resale_revenue(markup, cost=Decimal("-0.04"), billed=False, currency="EUR") == Decimal(
        "-0.05"
    )
    with pytest.raises(ValueError, match="prices nothing"):
        resale_revenue(
            rule(BACKUP, LIME, D(2026, 1, 1), "inherit"),
            cost=Decimal(1),
            billed=True,
            currency="EUR",
        )


def test_ratio_pct_rounds_half_up_and_refuses_floats():
    assert ratio_pct(Decimal("12.00"), Decimal("165.00")) == Decimal("7.27")  # 7.2727…
    assert ratio_pct(Decimal("1"), Decimal("8")) == Decimal("12.50")
    assert ratio_pct(Decimal("1"), Decimal("800")) == Decimal("0.13")  # 0.125 → 0.13
    assert ratio_pct(Decimal("-1"), Decimal("800")) == Decimal("-0.13")  # away from zero
    assert ratio_pct(Decimal("1"), Decimal("3"), places=1) == Decimal("33.3")
    assert ratio_pct(Decimal("5"), Decimal("0")) is None
    with pytest.raises(TypeError):
        ratio_pct(0.5, Decimal("1"))  # type: ignore[arg-type]
    with pytest.raises(MoneyError):
        ratio_pct(Decimal("NaN"), Decimal("1"))


def test_a_months_figures_and_the_total_row():
    prices = PriceBook(
        [
            rule(BACKUP, None, D(2026, 1, 1), "markup", "25"),
            rule(MAIL, None, D(2026, 1, 1), "fixed", "30.00"),
        ]
    )
    result = month_margin(
        month=D(2026, 5, 1),
        currency="EUR",
        usage=[
            Usage(LIME, BACKUP, "Backup", Decimal("81.00"), True),
            Usage(KIWI, BACKUP, "Backup", Decimal("85.50"), True),
            Usage(KIWI, None, "", Decimal("3.00"), True),
        ],
        credits=[Credit(KIWI, MAIL, Decimal("5.00")), Credit(None, None, Decimal("1.00"))],
        clients={KIWI: ClientInfo("kiwi GmbH", "K"), LIME: ClientInfo("Lime AG", "L")},
        prices=prices,
    )
    rows = [
        (r.name, r.vendor_cost, r.resale_revenue, r.margin, r.margin_pct, r.unpriced)
        for r in result.clients
    ]
    assert rows == [
        # 85.50 + 3.00 − 5.00; revenue 85.50 + 21.38 (21.375 half up)
        (
            "kiwi GmbH",
            Decimal("83.50"),
            Decimal("106.88"),
            Decimal("23.38"),
            Decimal("21.88"),
            ["Lines without a product"],
        ),
        ("Lime AG", Decimal("81.00"), Decimal("101.25"), Decimal("20.25"), Decimal("20.00"), []),
    ]
    assert result.unallocated_credits == Decimal("1.00")
    assert result.total.vendor_cost == Decimal("163.50")  # 83.50 + 81.00 − 1.00
    assert result.total.resale_revenue == Decimal("208.13")
    assert result.total.margin == Decimal("44.63")
    assert result.total.margin_pct == Decimal("21.44")  # 44.63 / 208.13 = 21.443…
    assert result.credited == Decimal("6.00")
