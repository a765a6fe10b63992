"""The billing catalog (in each vendor's schema): products, meters and versioned price plans.

A price plan's prices live in its versions. A version whose month has started (later also: one
that invoices or subscriptions refer to) is never edited in place: a change is a new version
effective from a later month (`billing.services.catalog.price_plan_revise`). The database holds
the shape rules (exactly one of meter / seats, the fields each charge model needs, non-negative
amounts); the services check the rest (tier order, currency decimals) with readable errors.
"""

from __future__ import annotations

import datetime

from django.db import models
from django.db.models import Q

from .enums import Aggregation, ChargeModel, SeatCountingRule

# Unit prices may be fractions of a cent (0.000125 per API call); amounts are rounded to the
# currency's minor unit only when invoice lines are computed.
PRICE_DIGITS = {"max_digits": 18, "decimal_places": 6}


def _not_negative(field: str, name: str) -> models.CheckConstraint:
    return models.CheckConstraint(
        condition=Q(**{f"{field}__isnull": True}) | Q(**{f"{field}__gte": 0}), name=name
    )


class Product(models.Model):
    code = models.CharField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return self.name


class Meter(models.Model):
    """A billable metric: usage events name it by `code`."""

    code = models.CharField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    unit = models.CharField(max_length=50, help_text="What one unit is, e.g. GB or device.")
    aggregation = models.CharField(max_length=20, choices=Aggregation.choices)
    # The event property whose distinct values unique_count counts (e.g. "device_id").
    unique_property = models.CharField(max_length=100, blank=True)
    product = models.ForeignKey(
        Product, on_delete=models.PROTECT, null=True, blank=True, related_name="meters"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(aggregation=Aggregation.UNIQUE_COUNT) & ~Q(unique_property=""))
                | (~Q(aggregation=Aggregation.UNIQUE_COUNT) & Q(unique_property="")),
                name="billing_meter_unique_property_iff_unique_count",
            ),
            models.CheckConstraint(
                condition=Q(aggregation__in=Aggregation.values),
                name="billing_meter_aggregation_known",
            ),
        ]

    def __str__(self) -> str:
        return self.code


class PricePlan(models.Model):
    code = models.CharField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    currency = models.CharField(max_length=3)  # ISO 4217; one currency per plan, never changes
    product = models.ForeignKey(
        Product, on_delete=models.PROTECT, null=True, blank=True, related_name="price_plans"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return self.code


class PricePlanVersion(models.Model):
    """The prices of a plan from one month on, until the next version's month."""

    plan = models.ForeignKey(PricePlan, on_delete=models.CASCADE, related_name="versions")
    version = models.PositiveIntegerField()
    effective_from = models.DateField(help_text="The first day of the first month it prices.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["plan_id", "version"]
        constraints = [
            models.UniqueConstraint(fields=["plan", "version"], name="billing_plan_version_unique"),
            models.UniqueConstraint(
                fields=["plan", "effective_from"], name="billing_plan_version_month_unique"
            ),
            models.CheckConstraint(
                condition=Q(effective_from__day=1),
                name="billing_plan_version_starts_on_first_of_month",
            ),
            models.CheckConstraint(
                condition=Q(version__gte=1), name="billing_plan_version_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.plan_id} v{self.version} from {self.effective_from:%Y-%m}"

    def has_started(self, today: datetime.date) -> bool:
        """In use: its first month has begun (it may have been billed)."""
        return self.effective_from <= today


class Charge(models.Model):
    """One priced item of a plan version, on a meter's usage or on seats."""

    version = models.ForeignKey(PricePlanVersion, on_delete=models.CASCADE, related_name="charges")
    position = models.PositiveIntegerField()
    meter = models.ForeignKey(
        Meter, on_delete=models.PROTECT, null=True, blank=True, related_name="charges"
    )
    seats = models.BooleanField(default=False)
    model = models.CharField(max_length=20, choices=ChargeModel.choices)
    unit_price = models.DecimalField(**PRICE_DIGITS, null=True, blank=True)
    package_size = models.PositiveBigIntegerField(null=True, blank=True)
    package_price = models.DecimalField(**PRICE_DIGITS, null=True, blank=True)
    flat_fee = models.DecimalField(**PRICE_DIGITS, null=True, blank=True)
    # Tiers counted over all of the partner's clients instead of per client.
    pooled = models.BooleanField(default=False)
    counting_rule = models.CharField(max_length=20, choices=SeatCountingRule.choices, blank=True)

    class Meta:
        ordering = ["version_id", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["version", "position"], name="billing_charge_position_unique"
            ),
            models.CheckConstraint(
                condition=(Q(meter__isnull=False) & Q(seats=False))
                | (Q(meter__isnull=True) & Q(seats=True)),
                name="billing_charge_meter_xor_seats",
            ),
            models.CheckConstraint(
                condition=(Q(seats=True) & Q(counting_rule__in=SeatCountingRule.values))
                | (Q(seats=False) & Q(counting_rule="")),
                name="billing_charge_counting_rule_iff_seats",
            ),
            models.CheckConstraint(
                condition=Q(model__in=ChargeModel.values), name="billing_charge_model_known"
            ),
            models.CheckConstraint(
                condition=~Q(model=ChargeModel.PER_UNIT) | Q(unit_price__isnull=False),
                name="billing_charge_per_unit_has_unit_price",
            ),
            models.CheckConstraint(
                condition=~Q(model=ChargeModel.PACKAGE)
                | (
                    # NULL >= 1 is not false in SQL: the size must be there and positive.
                    Q(package_size__isnull=False)
                    & Q(package_size__gte=1)
                    & Q(package_price__isnull=False)
                ),
                name="billing_charge_package_has_size_and_price",
            ),
            models.CheckConstraint(
                condition=~Q(model=ChargeModel.FLAT) | Q(flat_fee__isnull=False),
                name="billing_charge_flat_has_fee",
            ),
            models.CheckConstraint(
                condition=Q(pooled=False)
                | Q(model__in=[ChargeModel.GRADUATED, ChargeModel.VOLUME]),
                name="billing_charge_only_tiered_models_pool",
            ),
            _not_negative("unit_price", "billing_charge_unit_price_not_negative"),
            _not_negative("package_price", "billing_charge_package_price_not_negative"),
            _not_negative("flat_fee", "billing_charge_flat_fee_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.meter_id or 'seats'} {self.model}"


class ChargeTier(models.Model):
    """A band of a graduated or volume charge: quantities above the previous tier's `up_to` up to
    and including this one's; the last tier has no upper bound (`up_to` null)."""

    charge = models.ForeignKey(Charge, on_delete=models.CASCADE, related_name="tiers")
    position = models.PositiveIntegerField()
    up_to = models.PositiveBigIntegerField(null=True, blank=True)
    unit_price = models.DecimalField(**PRICE_DIGITS, default=0)
    flat_fee = models.DecimalField(**PRICE_DIGITS, default=0)

    class Meta:
        ordering = ["charge_id", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["charge", "position"], name="billing_charge_tier_position_unique"
            ),
            # Only one open-ended tier per charge (the services also make it the last one).
            models.UniqueConstraint(
                fields=["charge"],
                condition=Q(up_to__isnull=True),
                name="billing_charge_tier_one_open_ended",
            ),
            models.CheckConstraint(
                condition=Q(up_to__isnull=True) | Q(up_to__gte=1),
                name="billing_charge_tier_up_to_positive",
            ),
            _not_negative("unit_price", "billing_charge_tier_unit_price_not_negative"),
            _not_negative("flat_fee", "billing_charge_tier_flat_fee_not_negative"),
        ]

    def __str__(self) -> str:
        return f"up to {self.up_to if self.up_to is not None else '∞'}"


# Models kept in their own modules, registered with the app through this one.
from .models_invoicing import (  # noqa: E402
    BillingPeriod,
    CreditNote,
    CreditNoteLine,
    DocumentSequence,
    Invoice,
    InvoiceCredit,
    InvoiceLine,
    InvoiceProductTotal,
    LateUsage,
    PartnerMrr,
    RatingChunk,
    UsageImport,
)
from .models_subscriptions import SeatQuantityChange, Subscription  # noqa: E402
from .models_usage import UsageEvent  # noqa: E402

__all__ = [
    "BillingPeriod",
    "Charge",
    "ChargeTier",
    "CreditNote",
    "CreditNoteLine",
    "DocumentSequence",
    "Invoice",
    "InvoiceCredit",
    "InvoiceLine",
    "InvoiceProductTotal",
    "LateUsage",
    "Meter",
    "PartnerMrr",
    "PricePlan",
    "PricePlanVersion",
    "Product",
    "RatingChunk",
    "SeatQuantityChange",
    "Subscription",
    "UsageEvent",
    "UsageImport",
]
