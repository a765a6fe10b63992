"""Subscriptions (in each vendor's schema): a client on a price plan with a seat quantity that
changes on given days.

`Subscription.quantity` is the quantity of the change effective last (the one in effect from then
on); the history, which seat counting reads, is the `SeatQuantityChange` rows: the initial quantity
is the first of them, at `started_on`. At most one change per day (a second change on the same day
replaces the first: see `billing.services.subscriptions.subscription_change_quantity`). That a
client has no two overlapping subscriptions on one plan is checked by the services under a lock on
the client's row (an exclusion constraint would need btree_gist in every schema).
"""

from __future__ import annotations

from django.db import models
from django.db.models import F, Q

__all__ = ["SeatQuantityChange", "Subscription"]


class Subscription(models.Model):
    client = models.ForeignKey(
        "partners.Client", on_delete=models.PROTECT, related_name="subscriptions"
    )
    price_plan = models.ForeignKey(
        "billing.PricePlan", on_delete=models.PROTECT, related_name="subscriptions"
    )
    quantity = models.PositiveIntegerField(help_text="Seats, as of the latest change.")
    started_on = models.DateField()
    ended_on = models.DateField(null=True, blank=True, help_text="The last day billed.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(quantity__gte=0), name="billing_subscription_quantity_not_negative"
            ),
            models.CheckConstraint(
                condition=Q(ended_on__isnull=True) | Q(ended_on__gte=F("started_on")),
                name="billing_subscription_ends_after_it_starts",
            ),
        ]
        indexes = [
            models.Index(fields=["client", "price_plan"], name="billing_sub_client_plan_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.client_id} on {self.price_plan_id} from {self.started_on}"


class SeatQuantityChange(models.Model):
    subscription = models.ForeignKey(
        Subscription, on_delete=models.CASCADE, related_name="quantity_changes"
    )
    quantity = models.PositiveIntegerField()
    effective_on = models.DateField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        # Recorded order: the order seat counting reads them in.
        ordering = ["subscription_id", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(quantity__gte=0), name="billing_seat_change_quantity_not_negative"
            ),
            models.UniqueConstraint(
                fields=["subscription", "effective_on"], name="billing_seat_change_one_per_day"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} seats from {self.effective_on}"
