"""Property tests: incentives.commission against the independent reference in
commission_reference.py (exact rationals), plus the clawback invariants."""

from __future__ import annotations

import datetime
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from core.money import ZERO
from incentives.commission import (
    Accelerator,
    CreditFact,
    GroupCommission,
    GrowthBand,
    LineFact,
    PlanRules,
    accelerator_multiplier,
    allocate_whole_credit,
    churn_adjusted_baseline,
    clawback_schedule,
    commission_amount,
    commission_rate,
    group_basis,
    growth_bonus,
    in_force,
    new_client_bonus_due,
)
from incentives.commission.growth import months_back

from . import commission_reference as ref

CURRENCIES = st.sampled_from([("EUR", 2), ("JPY", 0), ("KWD", 3)])


def money(places: int, low: int = -(10**6), high: int = 10**7):
    return st.integers(low, high).map(lambda n: Decimal(n).scaleb(-places))


rates = st.integers(0, 1_000_000).map(lambda n: Decimal(n).scaleb(-4))  # 0–100 %, 4 decimals
multipliers = st.integers(1, 5000).map(lambda n: Decimal(n).scaleb(-3))
months = st.integers(2020 * 12, 2030 * 12).map(lambda i: datetime.date(i // 12, i % 12 + 1, 1))


@st.composite
def plans(draw):
    tiers = draw(st.dictionaries(st.integers(1, 4), rates, max_size=4))
    products = draw(st.dictionaries(st.integers(1, 4), rates, max_size=3))
    bands = draw(
        st.lists(
            st.tuples(st.integers(0, 50_000).map(Decimal), multipliers),
            max_size=4,
            unique_by=lambda b: b[0],
        )
    )
    return PlanRules(
        effective_from=draw(months),
        basis="billed",
        tier_rates=tiers,
        product_rates=products,
        accelerators=tuple(Accelerator(min_mrr=m, multiplier=x) for m, x in bands),
    )


@settings(max_examples=300, deadline=None)
@given(
    plan=plans(),
    currency=CURRENCIES,
    tier=st.none() | st.integers(1, 5),
    tier_default=st.none() | rates,
    data=st.data(),
)
def test_commission_per_group_matches_reference(plan, currency, tier, tier_default, data):
    code, places = currency
    lines = data.draw(
        st.lists(
            st.builds(
                LineFact,
                invoice_id=st.integers(1, 3),
                product_id=st.none() | st.integers(1, 5),
                net_amount=money(places),
                is_adjustment=st.booleans(),
            ),
            max_size=25,
        )
    )
    mrr = data.draw(st.none() | money(places, 0, 10**8))
    multiplier = accelerator_multiplier(plan.accelerators, mrr)
    ours = {
        key: commission_amount(
            basis,
            commission_rate(plan, tier_id=tier, tier_default_pct=tier_default, product_id=key[1]),
            multiplier,
            code,
        )
        for key, basis in group_basis(lines).items()
    }
    assert ours == ref.commissions(lines, plan, tier, tier_default, mrr, places)
    assert all(isinstance(v, Decimal) for v in ours.values())


@settings(max_examples=200, deadline=None)
@given(items=st.lists(plans(), max_size=6, unique_by=lambda p: p.effective_from), month=months)
def test_plan_in_force_is_latest_started(items, month):
    assert in_force(items, month) == ref.plan_for(items, month)


@settings(max_examples=300, deadline=None)
@given(
    currency=CURRENCIES,
    data=st.data(),
    bands=st.lists(
        st.tuples(st.integers(0, 50_000).map(lambda n: Decimal(n).scaleb(-2)), rates),
        max_size=4,
        unique_by=lambda b: b[0],
    ),
)
def test_growth_bonus_matches_reference(currency, data, bands):
    code, places = currency
    growth_bands = [GrowthBand(min_growth_pct=m, rate_pct=r) for m, r in bands]
    trailing = data.draw(st.lists(st.none() | money(places, 0, 10**6), min_size=3, max_size=3))
    churned = data.draw(st.lists(money(places, 0, 10**5), min_size=3, max_size=3))
    mrr = data.draw(money(places, 0, 2 * 10**6))
    baseline = churn_adjusted_baseline(trailing, churned, code)
    outcome = growth_bonus(mrr, baseline, growth_bands, code)
    expected = ref.growth(mrr, trailing, churned, growth_bands, places)
    if expected is None:
        assert outcome is None
    else:
        assert outcome is not None
        assert (outcome.baseline, outcome.bonus) == expected


@settings(max_examples=300, deadline=None)
@given(
    month=months,
    n=st.integers(1, 6),
    offsets=st.sets(st.integers(-8, 3), max_size=10),
    before=st.booleans(),
)
def test_new_client_bonus_matches_reference(month, n, offsets, before):
    billed = {months_back(month, k) for k in offsets}
    window = {b for b in billed if b >= months_back(month, n - 1)}
    # The service passes the months in the window and whether the client was billed earlier.
    earlier = before or any(b < months_back(month, n - 1) for b in billed)
    ours = new_client_bonus_due(
        month=month, months_required=n, billed_months=window, billed_before=earlier
    )
    assert ours == ref.new_client_due(month, n, billed, before)


# ---- clawbacks -------------------------------------------------------------------------------


@st.composite
def invoice_groups(draw, places):
    count = draw(st.integers(1, 4))
    groups = {}
    for key in range(count):
        basis = Decimal(draw(st.integers(1, 10**6))).scaleb(-places)
        rate = draw(rates)
        multiplier = draw(multipliers)
        accrued = commission_amount(basis, rate, multiplier, {0: "JPY", 2: "EUR", 3: "KWD"}[places])
        groups[key if key else None] = GroupCommission(
            basis=basis, accrued=accrued, rate_pct=rate, multiplier=multiplier
        )
    return groups


@st.composite
def full_credit_plan(draw, groups, places):
    """Credit notes that together credit every group in full: line credits in random pieces,
    and whole-invoice credits of random parts of what is left, the last one clearing it."""
    unit = Decimal(1).scaleb(-places)
    left = {g: info.basis for g, info in groups.items()}
    notes = []
    for index in range(draw(st.integers(0, 5))):
        line_credits = {}
        for g in list(left):
            if left[g] > 0 and draw(st.booleans()):
                units = int(left[g] / unit)
                take = Decimal(draw(st.integers(1, units))) * unit
                line_credits[g] = take
                left[g] -= take
        whole = ZERO
        total_left = sum(left.values(), ZERO)
        if total_left > 0 and draw(st.booleans()):
            whole = Decimal(draw(st.integers(1, int(total_left / unit)))) * unit
            # What the service would allocate: mirror it to keep `left` right.
            for g, share in allocate_whole_credit(
                whole, left, {0: "JPY", 2: "EUR", 3: "KWD"}[places]
            ).items():
                left[g] -= share
        if line_credits or whole:
            notes.append(CreditFact(key=index, line_credits=line_credits, whole_amount=whole))
    rest = sum(left.values(), ZERO)
    if rest > 0:
        notes.append(CreditFact(key="last", whole_amount=rest))
    return notes


@settings(max_examples=300, deadline=None)
@given(currency=CURRENCIES, data=st.data())
def test_full_credit_claws_back_exactly_what_was_accrued(currency, data):
    code, places = currency
    groups = data.draw(invoice_groups(places))
    notes = data.draw(full_credit_plan(groups, places))
    schedule = clawback_schedule(groups, notes, code)
    for group, info in groups.items():
        taken = ZERO
        for note in notes:
            step = schedule[note.key].get(group, ZERO)
            assert step >= 0
            taken += step
            assert info.accrued - taken >= 0  # never below zero on the way
        assert info.accrued - taken == 0  # accrued − Σ clawbacks = 0 exactly


@settings(max_examples=300, deadline=None)
@given(currency=CURRENCIES, data=st.data())
def test_partial_line_credit_takes_the_commission_of_what_it_credits(currency, data):
    code, places = currency
    groups = data.draw(invoice_groups(places))
    group = data.draw(st.sampled_from(sorted(groups, key=lambda g: -1 if g is None else g)))
    info = groups[group]
    unit = Decimal(1).scaleb(-places)
    credited = Decimal(data.draw(st.integers(1, int(info.basis / unit)))) * unit
    schedule = clawback_schedule(groups, [CreditFact(key=1, line_credits={group: credited})], code)
    expected = (
        info.accrued
        if credited == info.basis
        else min(
            info.accrued,
            ref.round_half_up(
                ref.frac(credited) * ref.frac(info.rate_pct) / 100 * ref.frac(info.multiplier),
                places,
            ),
        )
    )
    assert schedule[1].get(group, ZERO) == expected
    assert all(g == group for g in schedule[1])


@settings(max_examples=300, deadline=None)
@given(
    currency=CURRENCIES,
    weights=st.dictionaries(st.integers(0, 6), st.integers(0, 10**6), min_size=1, max_size=6),
    data=st.data(),
)
def test_whole_credit_allocation_adds_up(currency, weights, data):
    code, places = currency
    remaining = {g: Decimal(w).scaleb(-places) for g, w in weights.items()}
    total = sum((r for r in remaining.values() if r > 0), ZERO)
    amount = Decimal(data.draw(st.integers(0, int(total.scaleb(places)) + 5))).scaleb(-places)
    shares = allocate_whole_credit(amount, remaining, code)
    assert sum(shares.values(), ZERO) == min(amount, total)
    for g, share in shares.items():
        assert 0 < share <= remaining[g]
