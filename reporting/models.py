"""Reporting (each vendor's schema): the MSP's own resale prices, read by its margin view.

A resale price is what an MSP (partner) charges its own client for one of the vendor's products
each month (`ResalePriceKind`: a fixed monthly price or a markup % on the vendor cost). A row
without a client is the partner's price for the product; a row with a client overrides it for
that client. Every row applies from its month (`effective_from`, the 1st) until the next row of
the same (partner, product, client): history is kept, so a past month shows the prices that
applied then. Setting a price for a month that already has a row replaces that row.

Amounts are in the partner's currency (kept on the row as `currency`).
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from billing.models_invoicing import AMOUNT_DIGITS

from .enums import ResalePriceKind

__all__ = ["MARKUP_DIGITS", "ResalePrice"]

MARKUP_DIGITS = {"max_digits": 7, "decimal_places": 2}  # percent, e.g. 25.00


class ResalePrice(models.Model):
    partner = models.ForeignKey("partners.Partner", on_delete=models.CASCADE, related_name="+")
    product = models.ForeignKey("billing.Product", on_delete=models.PROTECT, related_name="+")
    # Null: the partner's price for the product; set: an override for this client.
    client = models.ForeignKey(
        "partners.Client", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    effective_from = models.DateField(help_text="The first day of the first month it applies to.")
    kind = models.CharField(max_length=16, choices=ResalePriceKind.choices)
    fixed_price = models.DecimalField(**AMOUNT_DIGITS, null=True, blank=True)
    markup_pct = models.DecimalField(**MARKUP_DIGITS, null=True, blank=True)
    currency = models.CharField(max_length=3)
    updated_by_label = models.CharField(max_length=254, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["partner_id", "product_id", "client_id", "effective_from"]
        constraints = [
            models.UniqueConstraint(
                fields=["partner", "product", "effective_from"],
                condition=Q(client__isnull=True),
                name="reporting_resale_price_one_per_product_month",
            ),
            models.UniqueConstraint(
                fields=["partner", "product", "client", "effective_from"],
                condition=Q(client__isnull=False),
                name="reporting_resale_price_one_per_client_month",
            ),
            models.CheckConstraint(
                condition=Q(effective_from__day=1),
                name="reporting_resale_price_starts_on_first",
            ),
            models.CheckConstraint(
                condition=(
                    Q(kind=ResalePriceKind.FIXED)
                    & Q(fixed_price__isnull=False)
                    & Q(markup_pct__isnull=True)
                )
                | (
                    Q(kind=ResalePriceKind.MARKUP)
                    & Q(fixed_price__isnull=True)
                    & Q(markup_pct__isnull=False)
                )
                | (
                    Q(kind=ResalePriceKind.INHERIT)
                    & Q(fixed_price__isnull=True)
                    & Q(markup_pct__isnull=True)
                    & Q(client__isnull=False)
                ),
                name="reporting_resale_price_kind_fields",
            ),
            models.CheckConstraint(
                condition=Q(fixed_price__isnull=True) | Q(fixed_price__gte=0),
                name="reporting_resale_price_fixed_not_negative",
            ),
            models.CheckConstraint(
                condition=Q(markup_pct__isnull=True)
                | (Q(markup_pct__gte=-100) & Q(markup_pct__lte=1000)),
                name="reporting_resale_price_markup_in_range",
            ),
        ]
        indexes = [
            models.Index(fields=["partner", "effective_from"], name="reporting_resale_partner_idx")
        ]

    def __str__(self) -> str:
        scope = f"client {self.client_id}" if self.client_id else "all clients"
        return f"{self.product_id} ({scope}) from {self.effective_from:%Y-%m}: {self.describe()}"

    def describe(self) -> str:
        if self.kind == ResalePriceKind.FIXED:
            return f"{self.fixed_price} {self.currency} a month"
        if self.kind == ResalePriceKind.MARKUP:
            return f"cost + {self.markup_pct} %"
        return "the product's price"
