from decimal import Decimal as D
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from billing.rating.charge_models import price
from billing.rating.pooling import allocate_largest_remainder, rate_charge
from billing.rating.types import ChargeSpec, Tier
from tests.billing.reference import ref_allocate, ref_graduated, ref_round

TIERS = (Tier(100, D("1.00"), D("10")), Tier(None, D("0.80")))


def graduated(pooled, currency="EUR", tiers=TIERS):
    return ChargeSpec(model="graduated", currency=currency, tiers=tiers, pooled=pooled)


def test_per_client_prices_each_client_on_its_own_tiers():
    rating = rate_charge(graduated(pooled=False), {2: D(150), 1: D(50), 3: D(0)})
    assert rating.pooled is None
    assert [(c.client_id, c.amount) for c in rating.clients] == [
        (1, D("60.00")),  # 50 × 1.00 + 10
        (2, D("150.00")),
        (3, D("0.00")),
    ]
    assert rating.total == D("210.00")
    assert len(rating.clients[1].tier_breakdown) == 2


def test_pooled_counts_tiers_over_all_clients_and_allocates_by_largest_remainder():
    # Pool 151 units: 100 × 1.00 + 10 + 51 × 0.80 = 150.80, shared 50 : 100 : 0 : 1 →
    # exact 49.9338…, 99.8675…, 0, 0.9986… cents-floored 49.93 + 99.86 + 0 + 0.99 = 150.78; the two
    # cents left go to the largest remainders: client 4 (.86) and client 2 (.75).
    rating = rate_charge(graduated(pooled=True), {1: D(50), 2: D(100), 3: D(0), 4: D(1)})
    assert rating.pooled is not None and rating.pooled.amount == D("150.80")
    assert [(c.client_id, c.amount) for c in rating.clients] == [
        (1, D("49.93")),
        (2, D("99.87")),
        (3, D("0.00")),
        (4, D("1.00")),
    ]
    assert rating.total == D("150.80")
    assert {c.unit_price_effective for c in rating.clients if c.quantity} == {D("0.998675")}
    assert rating.clients[2].unit_price_effective == D(0)
    assert all(c.tier_breakdown == () for c in rating.clients)


def test_pooling_is_cheaper_than_per_client_tiers_here():
    quantities = {1: D(80), 2: D(80)}
    assert rate_charge(graduated(pooled=False), quantities).total == D("180.00")
    assert rate_charge(graduated(pooled=True), quantities).total == D("158.00")  # 110 + 48


def test_ties_go_to_the_lower_client_id():
    # 1.00 over three equal clients: 33 each, one cent left, remainders tie → client 5 (lowest).
    assert allocate_largest_remainder(100, {9: D(1), 5: D(1), 7: D(1)}) == {5: 34, 7: 33, 9: 33}
    assert allocate_largest_remainder(2, {9: D(1), 5: D(1), 7: D(1)}) == {5: 1, 7: 1, 9: 0}


def test_allocation_edge_cases():
    assert allocate_largest_remainder(0, {1: D(0), 2: D(0)}) == {1: 0, 2: 0}
    assert allocate_largest_remainder(0, {}) == {}
    assert allocate_largest_remainder(7, {1: D(0), 2: D("0.001")}) == {1: 0, 2: 7}
    with pytest.raises(ValueError, match="no quantity"):
        allocate_largest_remainder(5, {1: D(0)})
    with pytest.raises(ValueError, match="negative"):
        allocate_largest_remainder(5, {1: D(-1), 2: D(3)})


def test_pooled_jpy_allocates_whole_yen():
    charge = ChargeSpec(model="per_unit", currency="JPY", unit_price=D("10"), pooled=True)
    rating = rate_charge(charge, {1: D(1), 2: D(1), 3: D(1), 4: D("0.2")})
    assert rating.total == D("32")
    assert [c.amount for c in rating.clients] == [D(10), D(10), D(10), D(2)]


PLACES = {"EUR": 2, "JPY": 0, "KWD": 3}


@st.composite
def tiers(draw):
    bounds = sorted(draw(st.sets(st.integers(min_value=1, max_value=150), max_size=3)))
    prices = st.decimals(min_value=0, max_value=3, places=3)
    fees = st.decimals(min_value=0, max_value=20, places=2)
    return tuple(Tier(up_to, draw(prices), draw(fees)) for up_to in [*bounds, None])


@settings(max_examples=200, deadline=None)
@given(
    tiers(),
    st.dictionaries(
        st.integers(min_value=1, max_value=10**6),
        st.integers(min_value=0, max_value=40),
        max_size=8,
    ),
    st.sampled_from(["EUR", "JPY", "KWD"]),
)
def test_pooled_allocation_properties(tiers, whole_quantities, currency):
    quantities = {c: D(q) for c, q in whole_quantities.items()}
    rating = rate_charge(graduated(pooled=True, currency=currency, tiers=tiers), quantities)
    pool = sum(whole_quantities.values())
    plain = [(t.up_to, t.unit_price, t.flat_fee) for t in tiers]
    expected_pooled = ref_round(ref_graduated(plain, Fraction(pool)), currency)
    # The pooled amount is the tiers priced over the whole pool, rounded once …
    assert Fraction(rating.total) == expected_pooled
    # … its allocations sum to it exactly, each is rounded to the minor unit …
    assert sum(c.amount for c in rating.clients) == rating.total
    unit = Fraction(1, 10 ** PLACES[currency])
    for line in rating.clients:
        assert line.amount.as_tuple().exponent == -PLACES[currency]
        # … within one minor unit of its exact proportional share, zero for zero quantity …
        exact_share = expected_pooled * whole_quantities[line.client_id] / pool if pool else 0
        assert abs(Fraction(line.amount) - exact_share) < unit
        if whole_quantities[line.client_id] == 0:
            assert line.amount == 0
    total_minor = int(expected_pooled / unit)
    allocated = {c.client_id: int(Fraction(c.amount) / unit) for c in rating.clients}
    # … and the largest remainders got the leftover units: anyone rounded up had a larger
    # remainder (or an equal one and a lower id) than anyone rounded down.
    shares = {c: total_minor * Fraction(q, pool) for c, q in whole_quantities.items() if pool}
    up = [c for c in shares if allocated[c] > shares[c]]
    down = [c for c in shares if allocated[c] < shares[c]]
    for i in up:
        for j in down:
            ri, rj = shares[i] - int(shares[i]), shares[j] - int(shares[j])
            assert ri > rj or (ri == rj and i < j)
    # Same outcome as handing out one minor unit at a time to the neediest client (slow: only
    # for totals small enough to walk).
    if total_minor <= 20_000:
        weights = {c: Fraction(q) for c, q in whole_quantities.items()}
        assert allocated == ref_allocate(total_minor, weights)
    assert [c.client_id for c in rating.clients] == sorted(whole_quantities)


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(
        st.integers(min_value=1, max_value=50),
        st.decimals(min_value=0, max_value=100, places=2),
        max_size=6,
    ),
    st.decimals(min_value=0, max_value=3, places=4),
)
def test_per_client_rating_is_each_clients_own_price(quantities, unit_price):
    charge = ChargeSpec(model="per_unit", currency="EUR", unit_price=unit_price)
    rating = rate_charge(charge, quantities)
    assert {c.client_id: c.amount for c in rating.clients} == {
        client: price(q, charge).amount for client, q in quantities.items()
    }
    assert rating.total == sum((c.amount for c in rating.clients), D(0))
