"""Every charge model against the independent reference in reference.py."""

from decimal import Decimal
from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from billing.rating.charge_models import price
from billing.rating.types import ChargeSpec, Tier
from tests.billing.reference import ref_graduated, ref_package, ref_round, ref_volume

CURRENCIES = st.sampled_from(["EUR", "JPY", "KWD"])
PRICES = st.decimals(min_value=0, max_value=5, places=4)
FEES = st.decimals(min_value=0, max_value=30, places=3)
STEPS = st.sampled_from([Fraction(1), Fraction(1, 2), Fraction(1, 4)])


@st.composite
def tiers(draw):
    bounds = sorted(draw(st.sets(st.integers(min_value=1, max_value=120), min_size=0, max_size=4)))
    return tuple(Tier(up_to, draw(PRICES), draw(FEES)) for up_to in [*bounds, None])


@st.composite
def quantities(draw):
    """(step, quantity): a multiple of the step, so the reference can walk it slice by slice."""
    step = draw(STEPS)
    quantity = draw(st.integers(min_value=0, max_value=200)) * step
    return step, quantity


@st.composite
def tiers_and_quantities(draw):
    """(tiers, step, quantity), the quantity often exactly at a tier bound or one step either side
    of it, where an off-by-one would show."""
    tier_list = draw(tiers())
    step = draw(STEPS)
    bounds = [Fraction(t.up_to) for t in tier_list if t.up_to is not None]
    near_bounds = [b + d for b in bounds for d in (-step, Fraction(0), step)]
    anywhere = st.integers(min_value=0, max_value=int(160 / step)).map(lambda n: n * step)
    quantity = draw(st.one_of(st.sampled_from(near_bounds), anywhere) if bounds else anywhere)
    return tier_list, step, quantity


def plain(tiers):
    return [(t.up_to, t.unit_price, t.flat_fee) for t in tiers]


def as_decimal(quantity: Fraction) -> Decimal:
    return Decimal(quantity.numerator) / Decimal(quantity.denominator)  # exact: 1/2, 1/4


def check(priced, expected_exact: Fraction, currency: str):
    assert Fraction(priced.exact_amount) == expected_exact
    assert Fraction(priced.amount) == ref_round(expected_exact, currency)
    assert priced.amount.as_tuple().exponent == -{"EUR": 2, "JPY": 0, "KWD": 3}[currency]


@settings(max_examples=200, deadline=None)
@given(tiers_and_quantities(), CURRENCIES)
def test_graduated_matches_the_unit_by_unit_reference(tiers_quantity, currency):
    tiers, step, quantity = tiers_quantity
    charge = ChargeSpec(model="graduated", currency=currency, tiers=tiers)
    priced = price(as_decimal(quantity), charge)
    check(priced, ref_graduated(plain(tiers), quantity, step), currency)
    assert sum(t.amount for t in priced.tier_breakdown) == priced.exact_amount
    assert sum(t.units for t in priced.tier_breakdown) == as_decimal(quantity)


@settings(max_examples=200, deadline=None)
@given(tiers_and_quantities(), CURRENCIES)
def test_volume_matches_the_reference(tiers_quantity, currency):
    tiers, step, quantity = tiers_quantity
    charge = ChargeSpec(model="volume", currency=currency, tiers=tiers)
    check(price(as_decimal(quantity), charge), ref_volume(plain(tiers), quantity, step), currency)


@settings(max_examples=200, deadline=None)
@given(
    st.integers(min_value=1, max_value=50),
    PRICES,
    quantities(),
    CURRENCIES,
)
def test_package_matches_brute_force(size, package_price, step_quantity, currency):
    _, quantity = step_quantity
    charge = ChargeSpec(
        model="package", currency=currency, package_size=size, package_price=package_price
    )
    check(price(as_decimal(quantity), charge), ref_package(size, package_price, quantity), currency)


@settings(max_examples=200, deadline=None)
@given(
    PRICES,
    st.decimals(min_value=0, max_value=10**9, places=6),
    CURRENCIES,
)
def test_per_unit_matches_exact_fractions(unit_price, quantity, currency):
    charge = ChargeSpec(model="per_unit", currency=currency, unit_price=unit_price)
    priced = price(quantity, charge)
    check(priced, Fraction(quantity) * Fraction(unit_price), currency)
    if quantity:
        assert priced.unit_price_effective == unit_price  # a per-unit line shows its own price


@settings(max_examples=200, deadline=None)
@given(FEES, st.decimals(min_value=0, max_value=10**6, places=2), CURRENCIES)
def test_flat_is_the_fee_for_any_quantity(fee, quantity, currency):
    charge = ChargeSpec(model="flat", currency=currency, flat_fee=fee)
    check(price(quantity, charge), Fraction(fee), currency)


@settings(max_examples=100, deadline=None)
@given(tiers(), st.integers(min_value=0, max_value=300), st.integers(min_value=0, max_value=300))
def test_graduated_never_decreases_as_quantity_grows(tiers, a, b):
    charge = ChargeSpec(model="graduated", currency="EUR", tiers=tiers)
    low, high = sorted((a, b))
    assert price(Decimal(low), charge).exact_amount <= price(Decimal(high), charge).exact_amount
