"""Pure commission logic: plain values in, plain values out — no ORM, no float.

- `rules`: which plan applies to a month, the rate of a (tier, product), the accelerator, the
  commission of a group of invoice lines;
- `growth`: the churn-adjusted baseline, the growth bonus and the new-client bonus;
- `clawback`: how much of a group's commission each credit note takes back.

Every amount is a `Decimal`; rounding only through `core.money`.
"""

from .clawback import CreditFact, GroupCommission, allocate_whole_credit, clawback_schedule
from .growth import (
    GrowthBand,
    GrowthOutcome,
    churn_adjusted_baseline,
    growth_bonus,
    new_client_bonus_due,
)
from .rules import (
    Accelerator,
    LineFact,
    PlanRules,
    accelerator_multiplier,
    commission_amount,
    commission_factor,
    commission_of,
    commission_rate,
    group_basis,
    in_force,
    month_mrr,
)

__all__ = [
    "Accelerator",
    "CreditFact",
    "GroupCommission",
    "GrowthBand",
    "GrowthOutcome",
    "LineFact",
    "PlanRules",
    "accelerator_multiplier",
    "allocate_whole_credit",
    "churn_adjusted_baseline",
    "clawback_schedule",
    "commission_amount",
    "commission_factor",
    "commission_of",
    "commission_rate",
    "group_basis",
    "growth_bonus",
    "in_force",
    "month_mrr",
    "new_client_bonus_due",
]
