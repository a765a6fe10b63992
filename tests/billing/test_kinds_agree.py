"""The catalog's stored choices and the rating engine's registries name the same kinds: a charge
saved in the catalog can always be priced, and every engine class can be chosen in the catalog."""

from billing.enums import Aggregation, ChargeModel, SeatCountingRule
from billing.rating.aggregations import AGGREGATIONS
from billing.rating.charge_models import CHARGE_MODELS
from billing.rating.seats import COUNTING_RULES


def test_aggregations_agree():
    assert set(Aggregation.values) == {str(kind) for kind in AGGREGATIONS}


def test_charge_models_agree():
    assert set(ChargeModel.values) == {str(kind) for kind in CHARGE_MODELS}


def test_counting_rules_agree():
    assert set(SeatCountingRule.values) == {str(kind) for kind in COUNTING_RULES}
