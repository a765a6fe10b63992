"""Incentives (each vendor's schema): commission plans, growth bonuses, the per-partner ledger,
monthly statements, disputes and payouts.

One ledger: every amount a partner earns or loses is a `LedgerEntry` derived from finalized invoice
lines (accruals, bonuses), from credit notes and uncollectible invoices (clawbacks), or from a
payout. An entry's `source_key` is unique, so posting the same fact twice (a task run twice, an
event delivered twice) writes it once. Balance = Σ amount of a partner's entries (accruals and
bonuses positive, clawbacks and payouts negative).

A line's product is its meter's product, or (seat lines, or a meter without one) its price plan's.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from billing.models_invoicing import AMOUNT_DIGITS

__all__ = [
    "CommissionAccelerator",
    "CommissionBasis",
    "CommissionPlan",
    "CommissionProductRate",
    "CommissionTierRate",
    "DisputeStatus",
    "EntryKind",
    "GrowthBonusBand",
    "GrowthBonusRule",
    "LedgerEntry",
    "Payout",
    "PayoutMethod",
    "PayoutProfile",
    "PayoutStatus",
    "Statement",
    "StatementDispute",
    "StatementStatus",
]

RATE_DIGITS = {"max_digits": 7, "decimal_places": 4}  # percent, e.g. 12.5000


class CommissionBasis(models.TextChoices):
    BILLED = "billed", "Billed MRR (accrues when the invoice is finalized)"
    COLLECTED = "collected", "Collected MRR (accrues when the invoice is paid)"


class CommissionPlan(models.Model):
    """The vendor's commission rules from `effective_from` (a month's first day) until the next
    plan's month. A plan that has accrued anything is never edited: a change is a new plan."""

    name = models.CharField(max_length=200)
    basis = models.CharField(max_length=16, choices=CommissionBasis.choices)
    effective_from = models.DateField(unique=True)
    # Payouts below this (in the partner's currency) are carried forward to the next statement.
    minimum_payout = models.DecimalField(**AMOUNT_DIGITS, default=0)
    created_by_label = models.CharField(max_length=254, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-effective_from"]
        constraints = [
            models.CheckConstraint(
                condition=Q(basis__in=CommissionBasis.values), name="incentives_plan_basis_known"
            ),
            models.CheckConstraint(
                condition=Q(minimum_payout__gte=0), name="incentives_plan_minimum_not_negative"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} (from {self.effective_from:%Y-%m})"


class CommissionTierRate(models.Model):
    """The commission rate for partners in `tier`; tiers without a row use the tier's own
    `commission_rate_pct` benefit."""

    plan = models.ForeignKey(CommissionPlan, on_delete=models.CASCADE, related_name="tier_rates")
    tier = models.ForeignKey("partners.Tier", on_delete=models.PROTECT, related_name="+")
    rate_pct = models.DecimalField(**RATE_DIGITS)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["plan", "tier"], name="incentives_tier_rate_once"),
            models.CheckConstraint(
                condition=Q(rate_pct__gte=0) & Q(rate_pct__lte=100),
                name="incentives_tier_rate_is_percent",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.tier_id}: {self.rate_pct} %"


class CommissionProductRate(models.Model):
    """A per-product override: lines of `product` earn `rate_pct` whatever the partner's tier."""

    plan = models.ForeignKey(CommissionPlan, on_delete=models.CASCADE, related_name="product_rates")
    product = models.ForeignKey("billing.Product", on_delete=models.PROTECT, related_name="+")
    rate_pct = models.DecimalField(**RATE_DIGITS)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["plan", "product"], name="incentives_product_rate_once"
            ),
            models.CheckConstraint(
                condition=Q(rate_pct__gte=0) & Q(rate_pct__lte=100),
                name="incentives_product_rate_is_percent",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.product_id}: {self.rate_pct} %"


class CommissionAccelerator(models.Model):
    """MRR band: a partner whose month's MRR is at least `min_mrr` has its rates multiplied by
    `multiplier` (the highest band reached applies)."""

    plan = models.ForeignKey(CommissionPlan, on_delete=models.CASCADE, related_name="accelerators")
    min_mrr = models.DecimalField(**AMOUNT_DIGITS)
    multiplier = models.DecimalField(max_digits=6, decimal_places=3)

    class Meta:
        ordering = ["min_mrr"]
        constraints = [
            models.UniqueConstraint(
                fields=["plan", "min_mrr"], name="incentives_accelerator_band_once"
            ),
            models.CheckConstraint(
                condition=Q(multiplier__gt=0), name="incentives_accelerator_multiplier_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"≥ {self.min_mrr}: × {self.multiplier}"


class GrowthBonusRule(models.Model):
    """Growth bonus and new-client bonus rules from `effective_from` (a month's first day).

    Growth: month MRR vs the churn-adjusted baseline of the trailing three months; the highest
    band whose `min_growth_pct` is reached pays `rate_pct` of the growth amount. New client: a
    client billed (basis: collected → paid) in each of `new_client_months` consecutive months
    from its first billed month earns `new_client_bonus` once (partners billed in `currency`)."""

    name = models.CharField(max_length=200)
    effective_from = models.DateField(unique=True)
    new_client_months = models.PositiveSmallIntegerField(default=3)
    new_client_bonus = models.DecimalField(**AMOUNT_DIGITS, default=0)
    currency = models.CharField(max_length=3)
    created_by_label = models.CharField(max_length=254, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-effective_from"]

    def __str__(self) -> str:
        return f"{self.name} (from {self.effective_from:%Y-%m})"


class GrowthBonusBand(models.Model):
    rule = models.ForeignKey(GrowthBonusRule, on_delete=models.CASCADE, related_name="bands")
    min_growth_pct = models.DecimalField(**RATE_DIGITS)
    rate_pct = models.DecimalField(**RATE_DIGITS)

    class Meta:
        ordering = ["min_growth_pct"]
        constraints = [
            models.UniqueConstraint(
                fields=["rule", "min_growth_pct"], name="incentives_growth_band_once"
            ),
        ]

    def __str__(self) -> str:
        return f"≥ {self.min_growth_pct} %: {self.rate_pct} %"


class StatementStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    APPROVED = "approved", "Approved"
    PAID = "paid", "Paid"  # its payout has been paid (or there was nothing to pay)


class Statement(models.Model):
    """A partner's commission statement for one month and currency: the ledger entries posted to
    it, the balance carried in and out. Approved statements are frozen; entries that arrive
    later go to the partner's next draft statement."""

    # No index of its own: the unique (partner, month, currency) leads with it.
    partner = models.ForeignKey(
        "partners.Partner", on_delete=models.PROTECT, related_name="statements", db_index=False
    )
    month = models.DateField()
    currency = models.CharField(max_length=3)
    status = models.CharField(
        max_length=16, choices=StatementStatus.choices, default=StatementStatus.DRAFT
    )
    opening_balance = models.DecimalField(**AMOUNT_DIGITS, default=0)
    # Figures as of approval (Σ of its entries by kind); recomputed while draft.
    accrued = models.DecimalField(**AMOUNT_DIGITS, default=0)
    bonuses = models.DecimalField(**AMOUNT_DIGITS, default=0)
    clawbacks = models.DecimalField(**AMOUNT_DIGITS, default=0)
    adjustments = models.DecimalField(**AMOUNT_DIGITS, default=0)
    held = models.DecimalField(**AMOUNT_DIGITS, default=0)  # disputed, not yet resolved
    payable = models.DecimalField(**AMOUNT_DIGITS, default=0)
    carried_forward = models.DecimalField(**AMOUNT_DIGITS, default=0)
    approved_at = models.DateTimeField(null=True, blank=True)
    approved_by_label = models.CharField(max_length=254, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-month", "partner_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["partner", "month", "currency"], name="incentives_statement_once"
            ),
            # What a ledger entry's composite foreign key (statement, partner) points at.
            models.UniqueConstraint(
                fields=["id", "partner"], name="incentives_statement_id_partner"
            ),
            models.CheckConstraint(
                condition=Q(status__in=StatementStatus.values),
                name="incentives_statement_status_known",
            ),
        ]
        indexes = [models.Index(fields=["status", "month"], name="incentives_stmt_status_idx")]

    def __str__(self) -> str:
        return f"Statement {self.month:%Y-%m} · {self.partner_id}"


class EntryKind(models.TextChoices):
    ACCRUAL = "accrual", "Commission"
    GROWTH_BONUS = "growth_bonus", "Growth bonus"
    NEW_CLIENT_BONUS = "new_client_bonus", "New-client bonus"
    CLAWBACK = "clawback", "Clawback"
    ADJUSTMENT = "adjustment", "Adjustment"  # a dispute resolved in the partner's favour
    PAYOUT = "payout", "Payout"
    PAYOUT_REVERSAL = "payout_reversal", "Payout reversed"  # a failed transfer gives it back


class LedgerEntry(models.Model):
    """One fact that moves a partner's commission balance.

    Accruals trace to the invoice and the group of its lines they were computed from (`invoice`,
    `product`, and the basis/rate used); the statement expands them to each invoice line and
    client. Clawbacks trace to the credit note or uncollectible invoice that caused them."""

    # A month-end accrual inserts thousands of entries, and every index and foreign-key check
    # costs per entry. So: no index of their own for keys that lead a composite index below
    # (statement, invoice) or that nothing looks entries up by (partner — pages and balances go
    # through statements —, product, client, reverses); credit note and payout get partial
    # indexes (most entries have neither).
    # Database foreign keys: one per entry, composite (statement, partner) → the statement's
    # (id, partner) — migration 0003 — which proves the statement exists *and* belongs to the
    # entry's partner (so the partner exists). The other references are traceability to rows
    # that are never deleted (finalized invoices — a trigger refuses —, products, clients, credit
    # notes, payouts, entries) and stay PROTECTed in the ORM, without a per-row check.
    partner = models.ForeignKey(
        "partners.Partner",
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    statement = models.ForeignKey(
        Statement,
        on_delete=models.PROTECT,
        related_name="entries",
        null=True,
        blank=True,
        db_index=False,
        db_constraint=False,
    )
    currency = models.CharField(max_length=3)
    kind = models.CharField(max_length=20, choices=EntryKind.choices)
    month = models.DateField(help_text="The billing month the entry belongs to.")
    amount = models.DecimalField(**AMOUNT_DIGITS)  # signed: + earns, − takes away
    basis = models.DecimalField(**AMOUNT_DIGITS, null=True, blank=True)
    rate_pct = models.DecimalField(max_digits=12, decimal_places=6, null=True, blank=True)
    # The accelerator applied to `rate_pct` (accruals): commission = round(basis × rate × it).
    multiplier = models.DecimalField(max_digits=6, decimal_places=3, null=True, blank=True)
    description = models.CharField(max_length=300)
    source_key = models.CharField(max_length=120)  # unique: a constraint below, no LIKE index
    invoice = models.ForeignKey(
        "billing.Invoice",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    product = models.ForeignKey(
        "billing.Product",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    client = models.ForeignKey(
        "partners.Client",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    credit_note = models.ForeignKey(
        "billing.CreditNote",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    payout = models.ForeignKey(
        "Payout",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="entries",
        db_index=False,
        db_constraint=False,
    )
    reverses = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="reversed_by",
        db_index=False,
        db_constraint=False,
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["source_key"], name="incentives_entry_source_key_once"),
            models.CheckConstraint(
                condition=Q(kind__in=EntryKind.values), name="incentives_entry_kind_known"
            ),
            # Earning kinds are never negative and taking kinds never positive.
            models.CheckConstraint(
                condition=~Q(kind__in=["accrual", "growth_bonus", "new_client_bonus"])
                | Q(amount__gte=0),
                name="incentives_entry_earning_not_negative",
            ),
            models.CheckConstraint(
                condition=~Q(kind__in=["clawback", "payout"]) | Q(amount__lte=0),
                name="incentives_entry_taking_not_positive",
            ),
        ]
        indexes = [
            models.Index(fields=["statement", "kind"], name="incentives_entry_stmt_idx"),
            models.Index(fields=["invoice"], name="incentives_entry_invoice_idx"),
            models.Index(
                fields=["credit_note"],
                name="incentives_entry_credit_idx",
                condition=Q(credit_note__isnull=False),
            ),
            models.Index(
                fields=["payout"],
                name="incentives_entry_payout_idx",
                condition=Q(payout__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.amount} {self.currency}"


class DisputeStatus(models.TextChoices):
    OPEN = "open", "Open"
    UPHELD = "upheld", "Upheld (corrected)"
    REJECTED = "rejected", "Rejected (stands)"


class StatementDispute(models.Model):
    """A partner disputes one entry of a statement; its amount is held (not paid out) until
    finance resolves it: rejected releases it as it was, upheld posts an adjustment."""

    statement = models.ForeignKey(Statement, on_delete=models.PROTECT, related_name="disputes")
    entry = models.ForeignKey(LedgerEntry, on_delete=models.PROTECT, related_name="disputes")
    reason = models.CharField(max_length=1000)
    status = models.CharField(
        max_length=16, choices=DisputeStatus.choices, default=DisputeStatus.OPEN
    )
    held_amount = models.DecimalField(**AMOUNT_DIGITS)
    corrected_amount = models.DecimalField(**AMOUNT_DIGITS, null=True, blank=True)
    resolution = models.CharField(max_length=1000, blank=True)
    opened_by_label = models.CharField(max_length=254)
    resolved_by_label = models.CharField(max_length=254, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            # One open dispute per entry at a time.
            models.UniqueConstraint(
                fields=["entry"],
                condition=Q(status="open"),
                name="incentives_one_open_dispute_per_entry",
            ),
            models.CheckConstraint(
                condition=Q(status__in=DisputeStatus.values),
                name="incentives_dispute_status_known",
            ),
        ]

    def __str__(self) -> str:
        return f"Dispute of entry {self.entry_id} ({self.status})"


class PayoutMethod(models.TextChoices):
    INVOICE_CREDIT = "invoice_credit", "Credit on the next invoice"
    STRIPE_TRANSFER = "stripe_transfer", "Stripe Connect transfer"


class PayoutProfile(models.Model):
    """How a partner is paid: a credit on its next invoice (the default) or a Stripe Connect
    transfer to its connected account."""

    partner = models.OneToOneField(
        "partners.Partner", on_delete=models.CASCADE, related_name="payout_profile"
    )
    method = models.CharField(
        max_length=20, choices=PayoutMethod.choices, default=PayoutMethod.INVOICE_CREDIT
    )
    stripe_account_id = models.CharField(max_length=100, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=~Q(method="stripe_transfer") | ~Q(stripe_account_id=""),
                name="incentives_transfer_needs_account",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.partner_id}: {self.method}"


class PayoutStatus(models.TextChoices):
    PENDING = "pending", "Pending"  # created at approval, not yet sent/applied
    SENDING = "sending", "Sending"  # a transfer call may have reached Stripe
    APPLIED = "applied", "Waiting for the next invoice"  # invoice credit scheduled
    PAID = "paid", "Paid"
    FAILED = "failed", "Failed"


class Payout(models.Model):
    """What one approved statement pays out (exactly one per statement)."""

    statement = models.OneToOneField(Statement, on_delete=models.PROTECT, related_name="payout")
    partner = models.ForeignKey("partners.Partner", on_delete=models.PROTECT, related_name="+")
    method = models.CharField(max_length=20, choices=PayoutMethod.choices)
    currency = models.CharField(max_length=3)
    amount = models.DecimalField(**AMOUNT_DIGITS)
    status = models.CharField(
        max_length=16, choices=PayoutStatus.choices, default=PayoutStatus.PENDING
    )
    # Stripe Connect: the transfer group names this payout everywhere, so a transfer sent by an
    # interrupted run is found again (also after Stripe's 24-hour idempotency window).
    transfer_group = models.CharField(max_length=100, blank=True)
    stripe_transfer_id = models.CharField(max_length=100, blank=True)
    # Invoice credit: the invoice that carried it.
    credited_invoice = models.ForeignKey(
        "billing.Invoice", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    failure = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    paid_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="incentives_payout_positive"),
            models.CheckConstraint(
                condition=Q(status__in=PayoutStatus.values), name="incentives_payout_status_known"
            ),
            models.UniqueConstraint(
                fields=["transfer_group"],
                condition=~Q(transfer_group=""),
                name="incentives_payout_transfer_group_once",
            ),
        ]

    def __str__(self) -> str:
        return f"Payout {self.pk} · {self.amount} {self.currency}"
