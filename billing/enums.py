"""Choices of the billing catalog. The values are the API's and the rating engine's
(`billing/rating/` keys its registry of pure classes by them): never rename one."""

from django.db import models


class Aggregation(models.TextChoices):
    """How a meter turns a month's events of one client into one quantity."""

    SUM = "sum", "Sum of quantities"
    COUNT = "count", "Count of events"
    MAX = "max", "Highest quantity"
    UNIQUE_COUNT = "unique_count", "Count of distinct property values"
    LATEST = "latest", "Latest quantity"


class ChargeModel(models.TextChoices):
    PER_UNIT = "per_unit", "Per unit"
    GRADUATED = "graduated", "Graduated tiers"
    VOLUME = "volume", "Volume tiers"
    PACKAGE = "package", "Package"
    FLAT = "flat", "Flat fee"


# Models priced by tiers; only these may pool their tiers across a partner's clients.
TIERED_MODELS = frozenset({ChargeModel.GRADUATED, ChargeModel.VOLUME})


class SeatCountingRule(models.TextChoices):
    """How a month's seat quantities (which change on given days) become one quantity."""

    AVERAGE = "average", "Daily average"
    PEAK = "peak", "Peak"
    SNAPSHOT = "snapshot", "Last day"
