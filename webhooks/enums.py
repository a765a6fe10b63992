from django.db import models


class WebhookEventType(models.TextChoices):
    """What an endpoint can subscribe to (the `type` of the payloads we send)."""

    PARTNER_APPROVED = "partner.approved", "Partner approved"
    INVOICE_FINALIZED = "invoice.finalized", "Invoice finalized"
    INVOICE_PAID = "invoice.paid", "Invoice paid"
    STATEMENT_APPROVED = "statement.approved", "Commission statement approved"
    PAYOUT_PAID = "payout.paid", "Payout paid"


# Sent only by the console's "Send test event" to the one endpoint it was asked for; never
# subscribable.
TEST_EVENT_TYPE = "webhook.test"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"  # not tried yet
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"  # the last attempt failed; another one is scheduled
    EXHAUSTED = "exhausted", "Exhausted"  # every attempt failed; only "retry now" sends again
