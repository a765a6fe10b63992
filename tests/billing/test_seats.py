from datetime import date, timedelta
from decimal import Decimal as D
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from billing.rating.seats import (
    COUNTING_RULES,
    BillingMonth,
    QuantityChange,
    SeatSubscription,
    count_seats,
)
from billing.rating.types import CountingRuleKind
from tests.billing.reference import ref_average, ref_peak, ref_snapshot

MARCH = BillingMonth(2026, 3)  # 31 days


def sub(started_on, ended_on=None, *changes):
    return SeatSubscription(
        started_on, ended_on, tuple(QuantityChange(day, q) for day, q in changes)
    )


def counts(subscription, month=MARCH):
    return tuple(count_seats(kind, subscription, month) for kind in ("average", "peak", "snapshot"))


def test_registry_maps_every_rule_to_its_class():
    assert {k: cls.__name__ for k, cls in COUNTING_RULES.items()} == {
        "average": "Average",
        "peak": "Peak",
        "snapshot": "Snapshot",
    }
    assert set(COUNTING_RULES) == set(CountingRuleKind)


def test_billing_month():
    assert (MARCH.days, MARCH.first_day, MARCH.last_day) == (
        31,
        date(2026, 3, 1),
        date(2026, 3, 31),
    )
    assert BillingMonth(2028, 2).days == 29
    with pytest.raises(ValueError):
        BillingMonth(2026, 13)


def test_a_whole_month_at_one_quantity():
    assert counts(sub(date(2025, 1, 1), None, (date(2025, 1, 1), 10))) == (D(10), D(10), D(10))


def test_a_mid_month_change():
    # 10 seats from the 1st, 20 from the 16th: (15 × 10 + 16 × 20) / 31 = 470 / 31
    subscription = sub(date(2026, 1, 1), None, (date(2026, 1, 1), 10), (date(2026, 3, 16), 20))
    average, peak, snapshot = counts(subscription)
    assert average == D(470) / D(31)
    assert str(average) == "15.16129032258064516129032258"  # 28 significant digits
    assert (peak, snapshot) == (D(20), D(20))


def test_a_client_churned_mid_month_is_counted_to_its_end_date_inclusive():
    # 12 seats, ends on the 10th: 10 days × 12 / 31; snapshot on the end date
    subscription = sub(date(2026, 1, 1), date(2026, 3, 10), (date(2026, 1, 1), 12))
    assert counts(subscription) == (D(120) / D(31), D(12), D(12))


def test_a_subscription_starting_mid_month_and_a_drop_after_the_peak():
    # starts the 20th with 31 seats, drops to 0 on the 25th: 5 days × 31 / 31 = 5 exactly
    subscription = sub(date(2026, 3, 20), None, (date(2026, 3, 20), 31), (date(2026, 3, 25), 0))
    assert counts(subscription) == (D(5), D(31), D(0))


def test_the_later_of_two_changes_on_the_same_day_wins():
    subscription = sub(
        date(2026, 3, 1),
        None,
        (date(2026, 3, 1), 4),
        (date(2026, 3, 11), 90),
        (date(2026, 3, 11), 9),
    )
    # 10 × 4 + 21 × 9 = 229; 90 was never in effect, so it is not the peak
    assert counts(subscription) == (D(229) / D(31), D(9), D(9))


def test_outside_the_month_counts_zero():
    ended = sub(date(2025, 1, 1), date(2026, 2, 28), (date(2025, 1, 1), 10))
    future = sub(date(2026, 4, 1), None, (date(2026, 4, 1), 10))
    assert counts(ended) == counts(future) == (D(0), D(0), D(0))
    # a change before the start sets the quantity, but days before the start count 0
    early = sub(date(2026, 3, 30), None, (date(2026, 1, 1), 31))
    assert counts(early) == (D(2), D(31), D(31))
    # no change at all: nothing in effect
    assert counts(sub(date(2026, 3, 1), None)) == (D(0), D(0), D(0))


def test_february_and_leap_years():
    subscription = sub(date(2028, 2, 15), None, (date(2028, 2, 15), 29))
    assert count_seats("average", subscription, BillingMonth(2028, 2)) == D(15)
    assert count_seats("average", subscription, BillingMonth(2027, 2)) == D(0)


def test_bad_subscriptions_are_refused():
    with pytest.raises(ValueError, match="before it starts"):
        sub(date(2026, 3, 2), date(2026, 3, 1))
    with pytest.raises(ValueError, match="negative"):
        sub(date(2026, 3, 1), None, (date(2026, 3, 1), -1))
    with pytest.raises(TypeError, match="whole number"):
        sub(date(2026, 3, 1), None, (date(2026, 3, 1), D("1.5")))


DAYS = st.dates(min_value=date(2026, 1, 20), max_value=date(2026, 4, 10))


@st.composite
def subscriptions(draw):
    started_on = draw(DAYS)
    ended_on = draw(
        st.one_of(st.none(), st.dates(min_value=started_on, max_value=date(2026, 4, 20)))
    )
    changes = draw(
        st.lists(
            st.tuples(
                st.dates(min_value=started_on - timedelta(days=10), max_value=date(2026, 4, 15)),
                st.integers(min_value=0, max_value=500),
            ),
            max_size=8,
        )
    )
    return started_on, ended_on, changes


MONTHS = st.sampled_from([(2026, 2), (2026, 3), (2026, 4)])


@settings(max_examples=200, deadline=None)
@given(subscriptions(), MONTHS)
def test_counting_rules_match_the_day_by_day_reference(subscription, year_month):
    started_on, ended_on, changes = subscription
    year, month = year_month
    seat_sub = sub(started_on, ended_on, *changes)
    billing_month = BillingMonth(year, month)
    args = (year, month, started_on, ended_on, changes)

    average = count_seats("average", seat_sub, billing_month)
    expected = ref_average(*args)
    if Fraction(average) != expected:  # a non-terminating quotient: 28 significant digits
        assert abs(Fraction(average) - expected) <= Fraction(1, 10**24)
        assert len(average.as_tuple().digits) == 28
    assert count_seats("peak", seat_sub, billing_month) == ref_peak(*args)
    assert count_seats("snapshot", seat_sub, billing_month) == ref_snapshot(*args)
