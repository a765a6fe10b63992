"""Billing periods, invoices, credit notes and the figures derived from them (each vendor's schema).

A period is a calendar month in the vendor's timezone, `[starts_at, ends_at)`, moving
open → rating → review → finalized (`billing.services.periods`). Rating runs in chunks of partners
(`RatingChunk`, one Celery task each); each chunk replaces its partners' draft invoices and lines in
one transaction, so a chunk run twice, or killed and run again, leaves the rows of one clean run.

The database holds the invariants (migration 0004 adds the triggers):
- one invoice per partner, period and currency (unique constraint);
- total = subtotal − discount + tax (check), subtotal = Σ line amounts and discount = Σ line
  discounts (a deferred constraint trigger, checked at commit);
- a finalized invoice (one with a number) never changes its figures, lines or number, and is never
  deleted; only its payment status moves on;
- a line's net = amount − discount (check);
- a line's invoice and client exist, and neither is deleted while lines refer to it (statement-
  level triggers of migration 0011, in place of per-line foreign keys).
"""

from __future__ import annotations

import uuid

from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import F, Q

__all__ = [
    "AMOUNT_DIGITS",
    "BillingPeriod",
    "CreditNote",
    "CreditNoteLine",
    "DocumentSequence",
    "Invoice",
    "InvoiceCredit",
    "InvoiceLine",
    "InvoiceProductTotal",
    "LateUsage",
    "PartnerMrr",
    "RatingChunk",
    "UsageImport",
    "UsageImportStatus",
]

# Amounts are rounded to the currency's minor unit (at most 3 decimals in ISO 4217 practice; 4
# leaves room for the few that have 4).
AMOUNT_DIGITS = {"max_digits": 18, "decimal_places": 4}
# Line quantities as shown (a daily seat average is rounded to 6 places for display; the amount
# was priced from the exact average).
LINE_QUANTITY_DIGITS = {"max_digits": 24, "decimal_places": 6}


class PeriodStatus(models.TextChoices):
    OPEN = "open", "Open"
    RATING = "rating", "Rating"
    REVIEW = "review", "In review"
    FINALIZED = "finalized", "Finalized"


class InvoiceStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    OPEN = "open", "Open"
    PAID = "paid", "Paid"
    PAYMENT_FAILED = "payment_failed", "Payment failed"
    REFUNDED = "refunded", "Refunded"
    VOID = "void", "Void"
    UNCOLLECTIBLE = "uncollectible", "Uncollectible"


class BillingPeriod(models.Model):
    month = models.DateField(unique=True, help_text="The first day of the month.")
    status = models.CharField(
        max_length=16, choices=PeriodStatus.choices, default=PeriodStatus.OPEN
    )
    # [starts_at, ends_at): midnight of the 1st to midnight of the next 1st in the vendor's
    # timezone, stored in UTC.
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    # The current rating run; chunks of an older run skip themselves.
    run = models.UUIDField(null=True, blank=True)
    run_started_at = models.DateTimeField(null=True, blank=True)
    rated_at = models.DateTimeField(null=True, blank=True)
    # Usage for this period arrived while it was being rated or reviewed: re-rate before finalizing.
    needs_rerating = models.BooleanField(default=False)
    finalized_at = models.DateTimeField(null=True, blank=True)
    finalized_by_label = models.CharField(max_length=254, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-month"]
        constraints = [
            models.CheckConstraint(
                condition=Q(month__day=1), name="billing_period_month_starts_on_first"
            ),
            models.CheckConstraint(
                condition=Q(status__in=PeriodStatus.values), name="billing_period_status_known"
            ),
            models.CheckConstraint(
                condition=Q(ends_at__gt=F("starts_at")), name="billing_period_ends_after_start"
            ),
            models.CheckConstraint(
                condition=~Q(status=PeriodStatus.FINALIZED) | Q(finalized_at__isnull=False),
                name="billing_period_finalized_has_time",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.month:%Y-%m}"

    @property
    def label(self) -> str:
        return f"{self.month:%Y-%m}"


class RatingChunk(models.Model):
    """A batch of partners rated by one task in one transaction."""

    period = models.ForeignKey(BillingPeriod, on_delete=models.CASCADE, related_name="chunks")
    run = models.UUIDField(default=uuid.uuid4)
    index = models.PositiveIntegerField()
    partner_ids = ArrayField(models.BigIntegerField())
    done_at = models.DateTimeField(null=True, blank=True)
    invoices = models.PositiveIntegerField(default=0)
    lines = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["period_id", "run", "index"]
        constraints = [
            models.UniqueConstraint(
                fields=["period", "run", "index"], name="billing_rating_chunk_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.period_id} run {self.run} chunk {self.index}"


class Invoice(models.Model):
    period = models.ForeignKey(BillingPeriod, on_delete=models.PROTECT, related_name="invoices")
    partner = models.ForeignKey(
        "partners.Partner", on_delete=models.PROTECT, related_name="invoices"
    )
    currency = models.CharField(max_length=3)
    # Issued at finalize from DocumentSequence("invoice"): gapless per tenant.
    number = models.CharField(max_length=32, null=True, blank=True, unique=True)
    status = models.CharField(
        max_length=16, choices=InvoiceStatus.choices, default=InvoiceStatus.DRAFT
    )
    subtotal = models.DecimalField(**AMOUNT_DIGITS)
    discount = models.DecimalField(**AMOUNT_DIGITS)
    tax = models.DecimalField(**AMOUNT_DIGITS)
    # Credits given at finalize (commission payouts as a credit, billing.closing.credits): Σ of
    # the invoice's InvoiceCredit rows; 0 on drafts.
    credits = models.DecimalField(**AMOUNT_DIGITS, default=0, db_default=0)
    total = models.DecimalField(**AMOUNT_DIGITS)
    # What the figures were computed with, kept so the document reads the same forever.
    discount_pct = models.DecimalField(max_digits=5, decimal_places=2)
    tax_rate = models.DecimalField(max_digits=5, decimal_places=2)
    tier_name = models.CharField(max_length=100, blank=True)
    bill_to_name = models.CharField(max_length=200)
    bill_to_email = models.CharField(max_length=254, blank=True)
    bill_to_address = models.TextField(blank=True)
    bill_to_country = models.CharField(max_length=2, blank=True)
    issued_on = models.DateField(null=True, blank=True)
    finalized_at = models.DateTimeField(null=True, blank=True)
    # Payment state (billing.services.invoice_payments moves it; the figures above never change
    # once finalized).
    paid_at = models.DateTimeField(null=True, blank=True)
    uncollectible_at = models.DateTimeField(null=True, blank=True)
    payment_reference = models.CharField(max_length=200, blank=True, db_default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["period_id", "partner_id", "currency"]
        constraints = [
            models.UniqueConstraint(
                fields=["period", "partner", "currency"],
                name="billing_invoice_one_per_partner_period_currency",
            ),
            models.CheckConstraint(
                condition=Q(total=F("subtotal") - F("discount") + F("tax") - F("credits")),
                name="billing_invoice_total_adds_up",
            ),
            # Credits never take an invoice below zero.
            models.CheckConstraint(
                condition=Q(credits=0) | (Q(credits__gt=0) & Q(total__gte=0)),
                name="billing_invoice_credits_within_total",
            ),
            models.CheckConstraint(
                condition=Q(status__in=InvoiceStatus.values), name="billing_invoice_status_known"
            ),
            # A number exactly when it has left draft.
            models.CheckConstraint(
                condition=(Q(status=InvoiceStatus.DRAFT) & Q(number__isnull=True))
                | (~Q(status=InvoiceStatus.DRAFT) & Q(number__isnull=False)),
                name="billing_invoice_number_iff_finalized",
            ),
        ]
        indexes = [
            models.Index(fields=["partner", "period"], name="billing_invoice_partner_idx"),
            models.Index(fields=["status", "period"], name="billing_invoice_status_idx"),
        ]

    def __str__(self) -> str:
        return self.number or f"Draft {self.period_id}/{self.partner_id}"

    @property
    def is_draft(self) -> bool:
        return self.status == InvoiceStatus.DRAFT


class InvoiceLine(models.Model):
    """One (client, charge) of an invoice; for a prior-period adjustment, `adjustment_of` is the
    month it corrects and the figures are the differences (possibly negative)."""

    # Month-end rating writes hundreds of thousands of lines, and every index and foreign-key
    # check costs per line. So: no single-column indexes (invoice is the leading column of the
    # (invoice, position) unique constraint, client of billing_line_client_idx; nothing looks
    # lines up by charge or meter), and no database constraint on charge and meter. Those two
    # are written only by rating, from the catalog it has just loaded, and charges and meters
    # are never deleted (price plans are versioned: a revision adds a version with new charges,
    # old ones stay; meters have no delete service), so the check could never fail — it only
    # cost a deferred key lookup per line at commit. PROTECT still guards deletes made through
    # the ORM. Invoice and client are checked set-based instead of per line (migration 0011):
    # statement-level triggers look up the distinct invoices and clients of each insert or
    # update of lines (a COPY of 150,000 lines: ~0.15 s, against ~2.5 s of per-line foreign-key
    # checks, which also share-lock every client row), and refuse deleting an invoice or a
    # client that lines still refer to.
    invoice = models.ForeignKey(
        Invoice,
        on_delete=models.CASCADE,
        related_name="lines",
        db_index=False,
        db_constraint=False,
    )
    position = models.PositiveIntegerField()
    client = models.ForeignKey(
        "partners.Client",
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    charge = models.ForeignKey(
        "billing.Charge",
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    meter = models.ForeignKey(
        "billing.Meter",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    seats = models.BooleanField(default=False)
    price_plan_code = models.CharField(max_length=64)
    description = models.CharField(max_length=300)
    quantity = models.DecimalField(**LINE_QUANTITY_DIGITS)
    unit_price = models.DecimalField(max_digits=18, decimal_places=6)
    amount = models.DecimalField(**AMOUNT_DIGITS)
    discount = models.DecimalField(**AMOUNT_DIGITS)
    net_amount = models.DecimalField(**AMOUNT_DIGITS)
    pooled = models.BooleanField(default=False)
    # [{"from": 0, "up_to": 100, "units": "100", "unit_price": "0.50", "flat_fee": "0",
    #   "amount": "50"}, …]; for a pooled charge, the pooled breakdown.
    tiers = models.JSONField(default=list, blank=True)
    adjustment_of = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["invoice_id", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["invoice", "position"], name="billing_invoice_line_position_unique"
            ),
            models.CheckConstraint(
                condition=Q(net_amount=F("amount") - F("discount")),
                name="billing_invoice_line_net_adds_up",
            ),
            models.CheckConstraint(
                condition=Q(adjustment_of__isnull=True) | Q(adjustment_of__day=1),
                name="billing_invoice_line_adjusts_a_month",
            ),
        ]
        indexes = [
            models.Index(fields=["client", "invoice"], name="billing_line_client_idx"),
        ]

    def __str__(self) -> str:
        return self.description


class InvoiceCredit(models.Model):
    """A credit line given at finalize by a credit provider (billing.closing.credits), e.g. a
    commission payout; `reference` is the provider's id of it ("payout:12")."""

    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="credit_lines")
    description = models.CharField(max_length=300)
    amount = models.DecimalField(**AMOUNT_DIGITS)
    reference = models.CharField(max_length=100)

    class Meta:
        ordering = ["invoice_id", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(amount__gt=0), name="billing_invoice_credit_positive"
            ),
            models.UniqueConstraint(
                fields=["reference"], name="billing_invoice_credit_reference_once"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.description}: {self.amount}"


class DocumentSequence(models.Model):
    """Gapless counters per tenant ("invoice", "credit_note"): read and bumped under a row lock
    inside the transaction that issues the numbers, so a rollback gives the numbers back."""

    name = models.CharField(max_length=32, primary_key=True)
    last = models.PositiveBigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.name}: {self.last}"


class CreditNote(models.Model):
    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="credit_notes")
    number = models.CharField(max_length=32, unique=True)
    reason = models.CharField(max_length=500)
    currency = models.CharField(max_length=3)
    subtotal = models.DecimalField(**AMOUNT_DIGITS)  # Σ line amounts (net of discount)
    tax = models.DecimalField(**AMOUNT_DIGITS)
    total = models.DecimalField(**AMOUNT_DIGITS)
    created_by_label = models.CharField(max_length=254)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(total=F("subtotal") + F("tax")), name="billing_credit_total_adds_up"
            ),
            models.CheckConstraint(condition=Q(total__gt=0), name="billing_credit_positive"),
        ]

    def __str__(self) -> str:
        return self.number


class CreditNoteLine(models.Model):
    credit_note = models.ForeignKey(CreditNote, on_delete=models.CASCADE, related_name="lines")
    invoice_line = models.ForeignKey(
        InvoiceLine, on_delete=models.PROTECT, null=True, blank=True, related_name="credits"
    )
    description = models.CharField(max_length=300)
    amount = models.DecimalField(**AMOUNT_DIGITS)

    class Meta:
        ordering = ["credit_note_id", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="billing_credit_line_positive")
        ]

    def __str__(self) -> str:
        return self.description


class LateUsage(models.Model):
    """Usage arrived for a finalized period: the next rating of a later period bills the
    difference as prior-period adjustment lines. `settled_in` is set when that later period is
    finalized (only for markers seen before its rating began)."""

    period = models.ForeignKey(BillingPeriod, on_delete=models.CASCADE, related_name="late_usage")
    partner = models.ForeignKey("partners.Partner", on_delete=models.CASCADE, related_name="+")
    last_seen_at = models.DateTimeField()
    settled_in = models.ForeignKey(
        BillingPeriod, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["period", "partner"], name="billing_late_usage_one_per_partner"
            )
        ]

    def __str__(self) -> str:
        return f"late usage {self.period_id}/{self.partner_id}"


class PartnerMrr(models.Model):
    """A partner's monthly recurring revenue for a finalized month: Σ net amounts of its invoice
    lines that are not prior-period adjustments, per currency. Tier evaluation reads the latest."""

    partner = models.ForeignKey("partners.Partner", on_delete=models.CASCADE, related_name="mrr")
    month = models.DateField()
    currency = models.CharField(max_length=3)
    amount = models.DecimalField(**AMOUNT_DIGITS)
    recorded_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["partner_id", "-month"]
        constraints = [
            models.UniqueConstraint(
                fields=["partner", "month", "currency"], name="billing_mrr_one_per_month"
            )
        ]

    def __str__(self) -> str:
        return f"{self.partner_id} {self.month:%Y-%m} {self.amount} {self.currency}"


class InvoiceProductTotal(models.Model):
    """A finalized invoice's lines summed per product, written once by finalize in the same pass
    that records MRR (`billing.closing.totals`) and never changed after (the invoice is frozen).

    Commission accrual reads these instead of grouping the month's lines again. A line's product
    is its meter's, else its price plan's (seat lines); `product` is null for lines whose charge
    maps to no product. `recurring` leaves out prior-period adjustment lines (the MRR figure)."""

    invoice = models.ForeignKey(
        Invoice, on_delete=models.CASCADE, related_name="product_totals", db_index=False
    )
    product = models.ForeignKey(
        "billing.Product",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
        db_constraint=False,  # products are never deleted (PROTECT); nothing to check per row
    )
    net_amount = models.DecimalField(**AMOUNT_DIGITS)
    # Null when every line of the group is a prior-period adjustment.
    recurring = models.DecimalField(**AMOUNT_DIGITS, null=True, blank=True)
    lines = models.PositiveIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["invoice", "product"],
                name="billing_product_total_one_per_product",
                nulls_distinct=False,
            )
        ]

    def __str__(self) -> str:
        return f"{self.invoice_id}/{self.product_id}: {self.net_amount}"


class UsageImportStatus(models.TextChoices):
    PREVIEWED = "previewed", "Checked, waiting to be imported"
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Importing"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class UsageImport(models.Model):
    """A usage CSV uploaded in the portal or console: checked on upload (preview with row-level
    errors), then imported in the background in batches through the same ingest as the API, with
    progress. `partner` is set when a partner uploaded it (its rows may only name its clients)."""

    partner = models.ForeignKey(
        "partners.Partner", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    uploaded_by_label = models.CharField(max_length=254)
    filename = models.CharField(max_length=255)
    staged_path = models.CharField(max_length=500)
    status = models.CharField(
        max_length=16, choices=UsageImportStatus.choices, default=UsageImportStatus.PREVIEWED
    )
    total_rows = models.PositiveIntegerField(default=0)
    processed_rows = models.PositiveIntegerField(default=0)
    accepted = models.PositiveIntegerField(default=0)
    duplicates = models.PositiveIntegerField(default=0)
    rejected = models.PositiveIntegerField(default=0)
    # The first row-level errors: [{"row": 12, "errors": [{"field": …, "code": …, "message": …}]}].
    errors = models.JSONField(default=list, blank=True)
    failure = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(processed_rows__lte=F("total_rows")),
                name="billing_usage_import_progress_bounded",
            )
        ]

    def __str__(self) -> str:
        return self.filename

    @property
    def progress(self) -> int:
        if not self.total_rows:
            return 100 if self.status == UsageImportStatus.DONE else 0
        return self.processed_rows * 100 // self.total_rows
