"""Worked examples with exact amounts for every charge model, and ChargeSpec validation."""

from decimal import Decimal as D

import pytest

from billing.rating.charge_models import CHARGE_MODELS, charge_model, price
from billing.rating.types import ChargeModelKind, ChargeSpec, ChargeSpecError, Tier, TierAmount

TIERS = (Tier(100, D("1.00"), D("10")), Tier(None, D("0.80")))


def graduated(tiers=TIERS, currency="EUR"):
    return ChargeSpec(model="graduated", currency=currency, tiers=tiers)


def volume(tiers=TIERS, currency="EUR"):
    return ChargeSpec(model="volume", currency=currency, tiers=tiers)


def test_registry_maps_every_kind_to_its_class():
    assert {kind: cls.__name__ for kind, cls in CHARGE_MODELS.items()} == {
        "per_unit": "PerUnit",
        "graduated": "Graduated",
        "volume": "Volume",
        "package": "Package",
        "flat": "Flat",
    }
    assert set(CHARGE_MODELS) == set(ChargeModelKind)
    assert type(charge_model("volume")).__name__ == "Volume"


# per_unit ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("quantity", "unit_price", "amount", "effective"),
    [
        ("150", "0.80", "120.00", "0.800000"),
        ("3", "0.0125", "0.04", "0.012500"),  # 0.0375 → 0.04, the unit price shown exactly
        ("1", "0.005", "0.01", "0.005000"),  # 0.005 half up
        ("0", "2.50", "0.00", "0.000000"),
        ("12.5", "2", "25.00", "2.000000"),
    ],
)
def test_per_unit(quantity, unit_price, amount, effective):
    charge = ChargeSpec(model="per_unit", currency="EUR", unit_price=D(unit_price))
    priced = price(D(quantity), charge)
    assert str(priced.amount) == amount
    assert priced.exact_amount == D(quantity) * D(unit_price)
    assert str(priced.unit_price_effective) == effective
    assert priced.tier_breakdown == ()


def test_per_unit_in_jpy_and_kwd():
    assert price(
        D("7"), ChargeSpec(model="per_unit", currency="JPY", unit_price=D("12.5"))
    ).amount == D("88")  # 87.5 → 88
    assert (
        str(
            price(
                D("3"), ChargeSpec(model="per_unit", currency="KWD", unit_price=D("0.0015"))
            ).amount
        )
        == "0.005"
    )  # 0.0045 → 0.005


# graduated --------------------------------------------------------------------------------------


def test_graduated_worked_example():
    # 0–100 @ 1.00 + flat 10, 101–∞ @ 0.80: 150 units → 100 × 1.00 + 50 × 0.80 + 10 = 150.00
    priced = price(D(150), graduated())
    assert priced.amount == D("150.00")
    assert priced.unit_price_effective == D("1.000000")
    assert priced.tier_breakdown == (
        TierAmount(0, 100, D(100), D("1.00"), D("10"), D("110.00")),
        TierAmount(100, None, D(50), D("0.80"), D("0"), D("40.00")),
    )


@pytest.mark.parametrize(
    ("quantity", "amount", "tiers_reached"),
    [
        ("0", "0.00", 0),  # nothing reached: no flat fee
        ("1", "11.00", 1),  # the first unit reaches tier 1 and its flat fee
        ("100", "110.00", 1),  # exactly at up_to: still only tier 1
        ("101", "110.80", 2),
        ("100.5", "110.40", 2),  # a fraction past the bound reaches tier 2
        ("1000", "830.00", 2),
    ],
)
def test_graduated_boundaries(quantity, amount, tiers_reached):
    priced = price(D(quantity), graduated())
    assert priced.amount == D(amount)
    assert len(priced.tier_breakdown) == tiers_reached
    assert sum(t.amount for t in priced.tier_breakdown) == priced.exact_amount


def test_graduated_charges_the_flat_fee_of_every_tier_reached():
    tiers = (
        Tier(10, D("2"), D("5")),
        Tier(20, D("1.5"), D("3")),
        Tier(None, D("0.333"), D("1")),
    )
    # 10 × 2 + 5 | 10 × 1.5 + 3 | 3 × 0.333 + 1 = 25 + 18 + 1.999 = 44.999 → 45.00
    priced = price(D(23), graduated(tiers))
    assert priced.exact_amount == D("44.999")
    assert priced.amount == D("45.00")
    assert [t.units for t in priced.tier_breakdown] == [D(10), D(10), D(3)]
    assert price(D(20), graduated(tiers)).amount == D("43.00")  # boundary: tier 3 not reached
    assert price(D(10), graduated(tiers)).amount == D("25.00")


# volume -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("quantity", "amount", "tier_up_to"),
    [
        ("0", "0.00", None),  # nothing: no flat fee
        ("1", "11.00", 100),
        ("100", "110.00", 100),  # exactly at up_to: the first tier prices all
        ("101", "80.80", None),  # past it: every unit at 0.80, tier 2 has no flat fee
        ("150", "120.00", None),
        ("100.5", "80.40", None),
    ],
)
def test_volume(quantity, amount, tier_up_to):
    priced = price(D(quantity), volume())
    assert priced.amount == D(amount)
    if D(quantity):
        (part,) = priced.tier_breakdown
        assert (part.up_to, part.units, part.amount) == (
            tier_up_to,
            D(quantity),
            priced.exact_amount,
        )
    else:
        assert priced.tier_breakdown == ()


def test_volume_with_a_flat_fee_on_the_tier_the_total_falls_in():
    tiers = (Tier(10, D("2"), D("0")), Tier(50, D("1.5"), D("7.5")), Tier(None, D("1"), D("20")))
    assert price(D(10), volume(tiers)).amount == D("20.00")
    assert price(D(11), volume(tiers)).amount == D("24.00")  # 11 × 1.5 + 7.5
    assert price(D(50), volume(tiers)).amount == D("82.50")
    assert price(D(51), volume(tiers)).amount == D("71.00")  # 51 × 1 + 20
    assert price(D(3), volume(tiers, currency="JPY")).amount == D("6")


# package ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("quantity", "amount"),
    [
        ("0", "0.00"),
        ("1", "5.00"),
        ("10", "5.00"),
        ("11", "10.00"),
        ("20", "10.00"),
        ("20.01", "15.00"),
        ("0.5", "5.00"),
    ],
)
def test_package_prices_every_started_block(quantity, amount):
    charge = ChargeSpec(model="package", currency="EUR", package_size=10, package_price=D("5"))
    priced = price(D(quantity), charge)
    assert priced.amount == D(amount)
    assert priced.tier_breakdown == ()


def test_package_of_one_unit_and_rounding():
    charge = ChargeSpec(model="package", currency="EUR", package_size=1, package_price=D("0.125"))
    assert price(D(3), charge).amount == D("0.38")  # 0.375 → 0.38
    assert price(D(3), charge).unit_price_effective == D("0.125")


# flat -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("quantity", ["0", "1", "1234.5"])
def test_flat_is_the_fee_whatever_the_quantity(quantity):
    charge = ChargeSpec(model="flat", currency="EUR", flat_fee=D("49.995"))
    priced = price(D(quantity), charge)
    assert (priced.amount, priced.exact_amount) == (D("50.00"), D("49.995"))
    assert priced.unit_price_effective == D("49.995")
    assert priced.tier_breakdown == ()


# bad input --------------------------------------------------------------------------------------


def test_negative_and_float_quantities_are_refused():
    with pytest.raises(ValueError, match="negative"):
        price(D("-1"), graduated())
    with pytest.raises(TypeError, match="Decimal"):
        price(1.5, graduated())  # type: ignore[arg-type]


def test_a_model_refuses_another_models_charge():
    with pytest.raises(ValueError, match="volume model cannot price a graduated charge"):
        charge_model("volume").price(D(1), graduated())


@pytest.mark.parametrize(
    ("kwargs", "field", "message"),
    [
        ({"model": "tiered"}, "model", "Unknown charge model 'tiered'"),
        (
            {"model": "per_unit", "currency": "EURO", "unit_price": D(1)},
            "currency",
            "Unknown currency",
        ),
        ({"model": "per_unit"}, "unit_price", "A per_unit charge needs a unit price"),
        ({"model": "per_unit", "unit_price": D("-1")}, "unit_price", "cannot be negative"),
        ({"model": "per_unit", "unit_price": D("0.0000001")}, "unit_price", "6 decimal places"),
        ({"model": "per_unit", "unit_price": 0.5}, "unit_price", "decimal number"),
        ({"model": "per_unit", "unit_price": D(1), "tiers": TIERS}, "tiers", "does not use tiers"),
        ({"model": "graduated"}, "tiers", "needs tiers"),
        ({"model": "graduated", "tiers": TIERS, "unit_price": D(1)}, "unit_price", "does not use"),
        (
            {"model": "graduated", "tiers": (Tier(100, D(1)), Tier(50, D(1)), Tier(None, D(1)))},
            "tiers",
            "Tiers must ascend: tier 2 goes up to 50, which is not above 100",
        ),
        (
            {"model": "volume", "tiers": (Tier(100, D(1)), Tier(100, D(1)), Tier(None, D(1)))},
            "tiers",
            "must ascend",
        ),
        ({"model": "volume", "tiers": (Tier(0, D(1)), Tier(None, D(1)))}, "tiers", "must ascend"),
        ({"model": "volume", "tiers": (Tier(100, D(1)),)}, "tiers", "last tier must be unbounded"),
        (
            {"model": "volume", "tiers": (Tier(None, D(1)), Tier(None, D(1)))},
            "tiers",
            "Only the last tier can be unbounded",
        ),
        (
            {"model": "volume", "tiers": (Tier(10, D(1), D("-5")), Tier(None, D(1)))},
            "tiers",
            "Tier 1's flat fee cannot be negative",
        ),
        (
            {"model": "volume", "tiers": (Tier(10, D(1)), Tier(None, D("-0.01")))},
            "tiers",
            "Tier 2's unit price cannot be negative",
        ),
        ({"model": "volume", "tiers": (Tier(D(10), D(1)), Tier(None, D(1)))}, "tiers", "whole"),
        ({"model": "package", "package_price": D(5)}, "package_size", "needs a package size"),
        (
            {"model": "package", "package_size": 0, "package_price": D(5)},
            "package_size",
            "at least 1",
        ),
        ({"model": "package", "package_size": 10}, "package_price", "needs a package price"),
        ({"model": "flat"}, "flat_fee", "A flat charge needs a flat fee"),
        ({"model": "flat", "flat_fee": D(1), "pooled": True}, "pooled", "cannot be pooled"),
        (
            {"model": "flat", "flat_fee": D(1), "counting_rule": "median"},
            "counting_rule",
            "Unknown counting rule 'median'",
        ),
    ],
)
def test_invalid_charge_specs_say_what_is_wrong(kwargs, field, message):
    kwargs = {"currency": "EUR", **kwargs}
    with pytest.raises(ChargeSpecError, match=message) as caught:
        ChargeSpec(**kwargs)
    assert caught.value.field == field


def test_a_valid_spec_normalises_kinds():
    charge = ChargeSpec(
        model="per_unit", currency="EUR", unit_price=D(1), pooled=True, counting_rule="peak"
    )
    assert charge.model is ChargeModelKind.PER_UNIT
    assert charge.counting_rule == "peak"
    assert ChargeSpec(model="graduated", currency="EUR", tiers=list(TIERS)).tiers == TIERS
