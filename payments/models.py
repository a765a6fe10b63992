"""Payments: how a partner pays (its Stripe customer and saved method), every attempt to collect
an invoice (Stripe charges and payments finance recorded by hand), refunds of credit notes and
the Stripe events we have applied.

Exactly-once lives here, in the database: one attempt row per (invoice, attempt number), written
and committed before Stripe is called; one refund per credit note; one row per Stripe event id.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from billing.models_invoicing import AMOUNT_DIGITS

from .enums import CollectionMethod, PaymentKind, PaymentMethodKind, PaymentStatus, RefundStatus


class PaymentProfile(models.Model):
    """A partner's payment set-up: created the first time it is needed."""

    partner = models.OneToOneField(
        "partners.Partner", on_delete=models.CASCADE, related_name="payment_profile"
    )
    # Created lazily (the first time a billing user opens the payment-method page).
    stripe_customer_id = models.CharField(max_length=64, null=True, blank=True, unique=True)
    method = models.CharField(
        max_length=16, choices=CollectionMethod.choices, default=CollectionMethod.BANK_TRANSFER
    )
    payment_method_id = models.CharField(max_length=64, blank=True)
    payment_method_kind = models.CharField(
        max_length=16, choices=PaymentMethodKind.choices, blank=True
    )
    brand = models.CharField(max_length=32, blank=True)
    last4 = models.CharField(max_length=4, blank=True)
    exp_month = models.PositiveSmallIntegerField(null=True, blank=True)
    exp_year = models.PositiveSmallIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(method=CollectionMethod.BANK_TRANSFER)
                | (~Q(payment_method_id="") & Q(stripe_customer_id__isnull=False)),
                name="payments_profile_stripe_has_method",
            )
        ]

    def __str__(self) -> str:
        return f"{self.partner_id}: {self.get_method_display()}"

    @property
    def charges_automatically(self) -> bool:
        return self.method == CollectionMethod.STRIPE and bool(self.payment_method_id)

    @property
    def method_label(self) -> str:
        if not self.charges_automatically:
            return "Bank transfer"
        if self.payment_method_kind == PaymentMethodKind.SEPA_DEBIT:
            return f"SEPA debit ···· {self.last4}"
        return f"{(self.brand or 'Card').title()} ···· {self.last4}"


class Payment(models.Model):
    """One attempt to collect (part of) an invoice: a Stripe charge, or money finance saw."""

    invoice = models.ForeignKey("billing.Invoice", on_delete=models.PROTECT, related_name="+")
    # The invoice's partner, kept on the row so every read scopes by it directly.
    partner = models.ForeignKey("partners.Partner", on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=16, choices=PaymentKind.choices)
    # 1 for the charge at finalize, 2… for dunning retries; null for manual payments.
    attempt = models.PositiveSmallIntegerField(null=True, blank=True)
    status = models.CharField(
        max_length=16, choices=PaymentStatus.choices, default=PaymentStatus.PENDING
    )
    amount = models.DecimalField(**AMOUNT_DIGITS)
    currency = models.CharField(max_length=3)
    stripe_payment_intent_id = models.CharField(max_length=64, null=True, blank=True, unique=True)
    # How often a worker started the call to Stripe (committed before the call): above 1, an
    # earlier run may have reached Stripe, so look for its PaymentIntent before creating one.
    stripe_calls = models.PositiveSmallIntegerField(default=0)
    payment_method_label = models.CharField(max_length=64, blank=True)
    failure_code = models.CharField(max_length=64, blank=True)
    failure_message = models.CharField(max_length=500, blank=True)
    reference = models.CharField(max_length=200, blank=True)
    received_on = models.DateField(null=True, blank=True)
    recorded_by_label = models.CharField(max_length=254, blank=True)
    settled_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["invoice", "attempt"],
                condition=Q(attempt__isnull=False),
                name="payments_one_row_per_invoice_attempt",
            ),
            # Never two charges of one invoice in flight at once.
            models.UniqueConstraint(
                fields=["invoice"],
                condition=Q(kind=PaymentKind.STRIPE)
                & Q(status__in=[PaymentStatus.PENDING, PaymentStatus.PROCESSING]),
                name="payments_one_open_charge_per_invoice",
            ),
            models.CheckConstraint(condition=Q(amount__gt=0), name="payments_amount_positive"),
            models.CheckConstraint(
                condition=(Q(kind=PaymentKind.STRIPE) & Q(attempt__isnull=False))
                | (Q(kind=PaymentKind.MANUAL) & Q(attempt__isnull=True)),
                name="payments_attempt_iff_stripe",
            ),
            models.CheckConstraint(
                condition=Q(status__in=PaymentStatus.values), name="payments_status_known"
            ),
        ]
        indexes = [
            models.Index(fields=["partner", "created_at"], name="payments_partner_idx"),
            models.Index(fields=["invoice", "status"], name="payments_invoice_idx"),
        ]

    def __str__(self) -> str:
        return f"payment {self.pk} of invoice {self.invoice_id}"

    @property
    def is_final(self) -> bool:
        return self.status in (
            PaymentStatus.SUCCEEDED,
            PaymentStatus.FAILED,
            PaymentStatus.CANCELED,
        )


class Refund(models.Model):
    """Money returned through Stripe for one credit note of an invoice paid by Stripe."""

    credit_note = models.OneToOneField(
        "billing.CreditNote", on_delete=models.PROTECT, related_name="+"
    )
    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="refunds")
    invoice = models.ForeignKey("billing.Invoice", on_delete=models.PROTECT, related_name="+")
    partner = models.ForeignKey("partners.Partner", on_delete=models.PROTECT, related_name="+")
    status = models.CharField(
        max_length=16, choices=RefundStatus.choices, default=RefundStatus.PENDING
    )
    amount = models.DecimalField(**AMOUNT_DIGITS)
    currency = models.CharField(max_length=3)
    stripe_refund_id = models.CharField(max_length=64, null=True, blank=True, unique=True)
    stripe_calls = models.PositiveSmallIntegerField(default=0)
    failure_message = models.CharField(max_length=500, blank=True)
    settled_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="payments_refund_positive"),
            models.CheckConstraint(
                condition=Q(status__in=RefundStatus.values), name="payments_refund_status_known"
            ),
        ]

    def __str__(self) -> str:
        return f"refund {self.pk} of credit note {self.credit_note_id}"


class StripeEvent(models.Model):
    """A Stripe webhook event we accepted (signature verified): each id is applied once."""

    event_id = models.CharField(max_length=255, unique=True)
    type = models.CharField(max_length=100)
    # What applying it did ("paid invoice 12", "ignored: another vendor's", …), for support.
    outcome = models.CharField(max_length=300, blank=True)
    stripe_created_at = models.DateTimeField(null=True, blank=True)
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-received_at", "-id"]

    def __str__(self) -> str:
        return f"{self.event_id} {self.type}"
