"""Worked examples of the commission rules with exact amounts, and a guard against float."""

from __future__ import annotations

import ast
import datetime
from decimal import Decimal
from pathlib import Path

import pytest

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
    month_mrr,
    new_client_bonus_due,
)

D = Decimal
M = datetime.date

PLAN = PlanRules(
    effective_from=M(2026, 1, 1),
    basis="billed",
    tier_rates={1: D("10"), 2: D("12.5")},
    product_rates={7: D("20")},
    accelerators=(
        Accelerator(min_mrr=D("5000"), multiplier=D("1.1")),
        Accelerator(min_mrr=D("10000"), multiplier=D("1.25")),
    ),
)


def test_plan_in_force_is_the_latest_started():
    later = PlanRules(effective_from=M(2026, 6, 1), basis="collected")
    assert in_force([PLAN, later], M(2026, 5, 1)) is PLAN
    assert in_force([PLAN, later], M(2026, 6, 1)) is later
    assert in_force([PLAN, later], M(2025, 12, 1)) is None


def test_rate_prefers_product_then_plan_tier_then_tier_benefit():
    assert commission_rate(PLAN, tier_id=1, tier_default_pct=D("3"), product_id=7) == D("20")
    assert commission_rate(PLAN, tier_id=2, tier_default_pct=D("3"), product_id=8) == D("12.5")
    assert commission_rate(PLAN, tier_id=3, tier_default_pct=D("3"), product_id=8) == D("3")
    assert commission_rate(PLAN, tier_id=None, tier_default_pct=None, product_id=None) == 0


def test_accelerator_takes_the_highest_band_reached():
    assert accelerator_multiplier(PLAN.accelerators, D("4999.99")) == 1
    assert accelerator_multiplier(PLAN.accelerators, D("5000.00")) == D("1.1")
    assert accelerator_multiplier(PLAN.accelerators, D("12000")) == D("1.25")
    assert accelerator_multiplier(PLAN.accelerators, None) == 1


def test_worked_example_of_an_invoice():
    # Invoice 1: product 7 (override 20 %): 108.00 + 30.01 − 5.00 (a prior-period adjustment);
    # product 8: 90.00; a line without product: 10.00. Tier 2 (12.5 %), MRR 10,500 → × 1.25.
    lines = [
        LineFact(1, 7, D("108.00")),
        LineFact(1, 7, D("30.01")),
        LineFact(1, 7, D("-5.00"), is_adjustment=True),
        LineFact(1, 8, D("90.00")),
        LineFact(1, None, D("10.00")),
    ]
    groups = group_basis(lines)
    assert groups == {(1, 7): D("133.01"), (1, 8): D("90.00"), (1, None): D("10.00")}
    assert month_mrr(lines) == D("238.01")  # adjustments are not recurring revenue
    multiplier = accelerator_multiplier(PLAN.accelerators, D("10500"))
    amounts = {
        key: commission_amount(
            basis,
            commission_rate(PLAN, tier_id=2, tier_default_pct=None, product_id=key[1]),
            multiplier,
            "EUR",
        )
        for key, basis in groups.items()
    }
    # 133.01 × 20 % × 1.25 = 33.2525 → 33.25; 90 × 12.5 % × 1.25 = 14.0625 → 14.06;
    # 10 × 12.5 % × 1.25 = 1.5625 → 1.56
    assert amounts == {(1, 7): D("33.25"), (1, 8): D("14.06"), (1, None): D("1.56")}


def test_rounding_is_half_up_once():
    assert commission_amount(D("0.10"), D("25"), D("1"), "EUR") == D("0.03")  # 0.025 → 0.03
    assert commission_amount(D("-0.10"), D("25"), D("1"), "EUR") == D("-0.03")
    assert commission_amount(D("1001"), D("12.5"), D("1"), "JPY") == D("125")  # 125.125


def test_growth_worked_example_with_churn():
    # Trailing MRR 1,000 / 1,100 / 1,200; a client that churned before M brought 100 in each.
    baseline = churn_adjusted_baseline(
        [D("1000.00"), D("1100.00"), D("1200.00")], [D("100.00")] * 3, "EUR"
    )
    assert baseline == D("1000.00")  # (900 + 1000 + 1100) / 3
    bands = [GrowthBand(D("5"), D("2")), GrowthBand(D("20"), D("5"))]
    outcome = growth_bonus(D("1250.00"), baseline, bands, "EUR")
    assert outcome is not None
    assert (outcome.growth, outcome.growth_pct, outcome.band.rate_pct, outcome.bonus) == (
        D("250.00"),
        D("25.00"),
        D("5"),
        D("12.50"),
    )
    # 19.99 % growth only reaches the 5 % band: 199.90 × 2 % = 4.00 (3.998 → 4.00)
    assert growth_bonus(D("1199.90"), baseline, bands, "EUR").bonus == D("4.00")
    # Exactly the threshold counts; below the lowest band, no bonus; shrinking, no bonus.
    assert growth_bonus(D("1050.00"), baseline, bands, "EUR").bonus == D("1.00")
    assert growth_bonus(D("1049.99"), baseline, bands, "EUR") is None
    assert growth_bonus(D("900.00"), baseline, bands, "EUR") is None


def test_baseline_rounds_and_needs_three_months():
    assert churn_adjusted_baseline([D("100.00"), D("100.00"), D("100.01")], [D(0)] * 3, "EUR") == D(
        "100.00"
    )  # 300.01 / 3 = 100.0033…
    assert churn_adjusted_baseline([None, D("100"), D("100")], [D(0)] * 3, "EUR") is None
    assert churn_adjusted_baseline([D("50")] * 3, [D("50")] * 3, "EUR") is None  # all churned
    assert growth_bonus(D("100"), None, [GrowthBand(D(0), D(10))], "EUR") is None


def test_new_client_bonus_worked_examples():
    kw = {"month": M(2026, 12, 1), "months_required": 3, "billed_before": False}
    assert new_client_bonus_due(
        billed_months={M(2026, 10, 1), M(2026, 11, 1), M(2026, 12, 1)}, **kw
    )
    assert not new_client_bonus_due(billed_months={M(2026, 10, 1), M(2026, 12, 1)}, **kw)
    assert not new_client_bonus_due(billed_months={M(2026, 11, 1), M(2026, 12, 1)}, **kw)
    assert not new_client_bonus_due(
        billed_months={M(2026, 10, 1), M(2026, 11, 1), M(2026, 12, 1)},
        **{**kw, "billed_before": True},
    )


def test_clawback_worked_example():
    # Group A: basis 200.00 at 10 % × 1 → 20.00; group B (no product): 100.01 at 10 % → 10.00.
    groups = {
        "A": GroupCommission(D("200.00"), D("20.00"), D("10"), D("1")),
        None: GroupCommission(D("100.01"), D("10.00"), D("10"), D("1")),
    }
    notes = [
        CreditFact(key=1, line_credits={"A": D("33.35")}),  # 3.335 → 3.34
        CreditFact(key=2, whole_amount=D("100.00")),  # over A 166.65 : B 100.01
        CreditFact(key=3, whole_amount=D("166.66")),  # everything left
    ]
    schedule = clawback_schedule(groups, notes, "EUR")
    assert schedule[1] == {"A": D("3.34")}
    # 100.00 split in proportion to what is left, 166.65 : 100.01 = 62.495… : 37.504…, the odd
    # cent to the largest remainder: 62.50 / 37.50. A credited 95.85 → 9.585 → 9.59 (takes
    # 9.59 − 3.34 = 6.25), B credited 37.50 → 3.75.
    assert allocate_whole_credit(D("100.00"), {"A": D("166.65"), None: D("100.01")}, "EUR") == {
        "A": D("62.50"),
        None: D("37.50"),
    }
    assert schedule[2] == {"A": D("6.25"), None: D("3.75")}
    assert schedule[3] == {"A": D("10.41"), None: D("6.25")}  # the rest, exactly
    assert sum(s.get("A", 0) for s in schedule.values()) == D("20.00")
    assert sum(s.get(None, 0) for s in schedule.values()) == D("10.00")


def test_nothing_accrued_nothing_clawed_back():
    groups = {1: GroupCommission(D("100"), D("0"), D("0"), D("1"))}
    assert clawback_schedule(groups, [CreditFact(key=1, whole_amount=D("100"))], "EUR") == {1: {}}


@pytest.mark.parametrize("package", ["commission", "services"])
def test_no_float_in_incentives(package):
    """No float literal, no float() call, no float annotation in the commission code."""
    root = Path(__file__).resolve().parents[2] / "incentives"
    paths = (
        sorted((root / package).rglob("*.py"))
        if package != "services"
        else [
            root / "services" / "accrual.py",
            root / "services" / "ledger.py",
            root / "services" / "plans.py",
        ]
    )
    assert paths
    for path in paths:
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            assert not (isinstance(node, ast.Constant) and isinstance(node.value, float)), (
                f"float literal in {path}:{node.lineno}"
            )
            assert not (isinstance(node, ast.Name) and node.id == "float"), (
                f"float in {path}:{node.lineno}"
            )
