"""Pure tier evaluation: the highest tier met, the next one, and the exact shortfall sentences.
No database: plain dataclasses in, plain dataclasses out."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from partners.evaluation import (
    TierSpec,
    describe,
    evaluate,
    measurements,
    meets,
    next_tier_above,
    shortfalls,
)
from partners.requirements import PartnerMetrics

REGISTERED = TierSpec(id=1, name="Registered", rank=1, requires_agreement=True)
SILVER = TierSpec(id=2, name="Silver", rank=2, min_active_clients=3, requires_agreement=True)
GOLD = TierSpec(
    id=3,
    name="Gold",
    rank=3,
    min_mrr=Decimal("5000.00"),
    min_active_clients=10,
    min_certified_technicians=1,
    requires_agreement=True,
)
LADDER = [GOLD, REGISTERED, SILVER]  # order of the input does not matter


def metrics(mrr="0", clients=0, technicians=0, agreement=True) -> PartnerMetrics:
    return PartnerMetrics(
        mrr=Decimal(mrr),
        active_clients=clients,
        certified_technicians=technicians,
        agreement_accepted=agreement,
    )


def test_the_highest_tier_met_wins_and_the_next_tier_lists_what_is_missing():
    result = evaluate(LADDER, metrics("3750.00", clients=8, technicians=0), "EUR")
    assert result.tier == SILVER
    assert result.next_tier == GOLD
    assert result.shortfalls == (
        "€1,250.00 more MRR",
        "2 more active clients",
        "1 more certified technician",
    )


def test_singular_and_plural_and_the_agreement():
    result = evaluate(LADDER, metrics("0", clients=2, agreement=False), "EUR")
    assert result.tier is None
    assert result.next_tier == REGISTERED
    assert result.shortfalls == ("accept the current agreement",)
    assert shortfalls(SILVER, metrics(clients=2, agreement=False), "EUR") == (
        "1 more active client",
        "accept the current agreement",
    )
    assert shortfalls(
        replace(GOLD, min_certified_technicians=3), metrics("5000", 10, 1), "EUR"
    ) == ("2 more certified technicians",)


def test_money_is_formatted_in_the_partners_currency_and_rounded_up():
    assert shortfalls(GOLD, metrics("3750", 10, 1), "USD") == ("$1,250.00 more MRR",)
    assert shortfalls(GOLD, metrics("3749.6", 10, 1), "JPY") == ("¥1,251 more MRR",)
    # A fraction of a cent short is still short: never "€0.00 more".
    assert shortfalls(GOLD, metrics("4999.999", 10, 1), "EUR") == ("€0.01 more MRR",)
    assert shortfalls(GOLD, metrics("5000", 10, 1), "EUR") == ()


def test_top_tier_has_no_next_tier_and_no_shortfalls():
    result = evaluate(LADDER, metrics("9000", clients=40, technicians=3), "EUR")
    assert (result.tier, result.next_tier, result.shortfalls) == (GOLD, None, ())


def test_an_empty_ladder_gives_no_tier():
    result = evaluate([], metrics(), "EUR")
    assert (result.tier, result.next_tier, result.shortfalls) == (None, None, ())


def test_the_highest_met_tier_wins_even_when_a_lower_one_asks_for_more():
    odd = [
        TierSpec(id=1, name="A", rank=1, min_active_clients=50),
        TierSpec(id=2, name="B", rank=2, min_active_clients=5),
    ]
    result = evaluate(odd, metrics(clients=5), "EUR")
    assert result.tier.name == "B"
    assert result.next_tier is None


def test_describe_names_what_was_met_and_what_the_next_tier_misses():
    numbers = metrics("3750.00", clients=8, technicians=0)
    result = evaluate(LADDER, numbers, "EUR")
    assert describe(result, numbers, "EUR") == (
        "Meets Silver: 8 active clients (minimum 3), agreement accepted. "
        "Gold needs €1,250.00 more MRR, 2 more active clients, 1 more certified technician."
    )
    top = metrics("6000", clients=12, technicians=1)
    assert describe(evaluate(LADDER, top, "EUR"), top, "EUR") == (
        "Meets Gold: €6,000.00 MRR (minimum €5,000.00), 12 active clients (minimum 10), "
        "1 certified technician (minimum 1), agreement accepted."
    )
    none = metrics(agreement=False)
    assert describe(evaluate(LADDER, none, "EUR"), none, "EUR") == (
        "Meets no tier. Registered needs accept the current agreement."
    )
    free = [TierSpec(id=9, name="Open", rank=1)]
    assert describe(evaluate(free, none, "EUR"), none, "EUR") == (
        "Meets Open, which has no requirements."
    )


def test_measurements_are_json_ready():
    assert measurements(metrics("12.50", 3, 1, False), "EUR") == {
        "mrr": "12.50",
        "currency": "EUR",
        "active_clients": 3,
        "certified_technicians": 1,
        "agreement_accepted": False,
    }


def test_next_tier_above():
    assert next_tier_above(LADDER, None) == REGISTERED
    assert next_tier_above(LADDER, 1) == SILVER
    assert next_tier_above(LADDER, 3) is None


# ---- properties ------------------------------------------------------------------------------


@st.composite
def ladders(draw) -> list[TierSpec]:
    size = draw(st.integers(min_value=0, max_value=5))
    return [
        TierSpec(
            id=rank,
            name=f"T{rank}",
            rank=rank,
            min_mrr=Decimal(draw(st.integers(0, 20_000))) / 100,
            min_active_clients=draw(st.integers(0, 30)),
            min_certified_technicians=draw(st.integers(0, 4)),
            requires_agreement=draw(st.booleans()),
        )
        for rank in draw(st.permutations(list(range(1, size + 1))))
    ]


metric_values = st.builds(
    PartnerMetrics,
    mrr=st.integers(0, 30_000).map(lambda cents: Decimal(cents) / 100),
    active_clients=st.integers(0, 40),
    certified_technicians=st.integers(0, 5),
    agreement_accepted=st.booleans(),
)


def reference_tier(tiers: list[TierSpec], m: PartnerMetrics) -> TierSpec | None:
    """An independent statement of the rule: of the tiers whose every minimum is reached, the
    one with the highest rank."""
    qualifying = [
        t
        for t in tiers
        if m.mrr >= t.min_mrr
        and m.active_clients >= t.min_active_clients
        and m.certified_technicians >= t.min_certified_technicians
        and (m.agreement_accepted or not t.requires_agreement)
    ]
    return max(qualifying, key=lambda t: t.rank, default=None)


@settings(max_examples=300, deadline=None)
@given(ladders(), metric_values)
def test_evaluation_matches_the_reference_and_its_tier_meets_every_requirement(tiers, m):
    result = evaluate(tiers, m, "EUR")
    assert result.tier == reference_tier(tiers, m)
    if result.tier is not None:
        assert meets(result.tier, m)
        assert shortfalls(result.tier, m, "EUR") == ()
    higher = [t for t in tiers if result.tier is None or t.rank > result.tier.rank]
    assert not any(meets(t, m) for t in higher)
    assert result.next_tier == min(higher, key=lambda t: t.rank, default=None)
    # The next tier is never met, so it always lacks something.
    assert bool(result.shortfalls) == (result.next_tier is not None)


def _rank(result) -> int:
    return result.tier.rank if result.tier else 0


@settings(max_examples=300, deadline=None)
@given(
    ladders(),
    metric_values,
    st.integers(0, 20),
    st.integers(0, 3),
    st.integers(0, 10_000),
    st.booleans(),
)
def test_more_of_anything_never_lowers_the_tier(tiers, m, clients, technicians, cents, accept):
    more = PartnerMetrics(
        mrr=m.mrr + Decimal(cents) / 100,
        active_clients=m.active_clients + clients,
        certified_technicians=m.certified_technicians + technicians,
        agreement_accepted=m.agreement_accepted or accept,
    )
    assert _rank(evaluate(tiers, more, "EUR")) >= _rank(evaluate(tiers, m, "EUR"))


@settings(max_examples=200, deadline=None)
@given(ladders(), metric_values, st.integers(1, 20))
def test_adding_clients_never_lowers_the_tier(tiers, m, extra):
    more = replace(m, active_clients=m.active_clients + extra)
    assert _rank(evaluate(tiers, more, "EUR")) >= _rank(evaluate(tiers, m, "EUR"))
