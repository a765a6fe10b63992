from django.db import models


class CollectionMethod(models.TextChoices):
    STRIPE = "stripe", "Stripe (card or bank debit)"
    BANK_TRANSFER = "bank_transfer", "Bank transfer"


class PaymentMethodKind(models.TextChoices):
    CARD = "card", "Card"
    SEPA_DEBIT = "sepa_debit", "SEPA bank debit"


class PaymentKind(models.TextChoices):
    STRIPE = "stripe", "Stripe charge"
    MANUAL = "manual", "Recorded by hand"


class PaymentStatus(models.TextChoices):
    PENDING = "pending", "Pending"  # recorded, Stripe not (yet known to be) called
    PROCESSING = "processing", "Processing"  # Stripe accepted it, the money is on its way (SEPA)
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    CANCELED = "canceled", "Canceled"  # not sent: the invoice was settled another way first


FINAL_PAYMENT_STATUSES = frozenset(
    {PaymentStatus.SUCCEEDED, PaymentStatus.FAILED, PaymentStatus.CANCELED}
)


class RefundStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
