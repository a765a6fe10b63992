"""Celery tasks of payments; each runs in its vendor's schema (tenant-schemas-celery), loads by id
and calls a service. Charges and refunds are exactly-once by their services (a row recorded
before Stripe is called, reconciliation by metadata), so they are acknowledged late: a worker
killed half-way gets the task redelivered and the re-run finds what the first run did."""

from celery import shared_task

from payments.services.charges import payment_charge, payments_resume
from payments.services.dunning import payments_retry_due
from payments.services.notifications import send_payment_failed_email
from payments.services.refunds import refund_execute
from payments.stripe_api import TRANSIENT_ERRORS


# Stripe unreachable or failing: retried with backoff (1, 2, 4 … minutes, 8 times); the re-run
# finds a PaymentIntent the failed call may have created before creating one.
@shared_task(
    name="payments.tasks.charge_payment",
    acks_late=True,
    autoretry_for=TRANSIENT_ERRORS,
    retry_backoff=60,
    retry_backoff_max=3600,
    max_retries=8,
)
def charge_payment(payment_id: int) -> str:
    return payment_charge(payment_id=payment_id)


@shared_task(name="payments.tasks.resume_pending_charges", acks_late=True)
def resume_pending_charges() -> list[int]:
    """Beat (per vendor): charge again the attempts left pending (lost task, retries spent)."""
    return payments_resume()


@shared_task(name="payments.tasks.execute_refund", acks_late=True)
def execute_refund(refund_id: int) -> str:
    return refund_execute(refund_id=refund_id)


@shared_task(name="payments.tasks.retry_failed_payments", acks_late=True)
def retry_failed_payments() -> list[int]:
    """Daily (beat): dunning retries due today in the vendor's timezone."""
    return payments_retry_due()


@shared_task(name="payments.tasks.email_payment_failed")
def email_payment_failed(payment_id: int, final: bool) -> int:
    return send_payment_failed_email(payment_id=payment_id, final=final)
