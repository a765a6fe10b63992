"""Dunning: a failed Stripe charge is retried on the days of PAYMENT_DUNNING_DAYS after the
first failure (e.g. "3,7,14": attempt 2 on day 3, attempt 3 on day 7, attempt 4 on day 14,
counted in the vendor's timezone); when the last retry fails the invoice becomes uncollectible
(`charges.payment_settle` does that). A daily beat job calls `payments_retry_due`; the unique
(invoice, attempt) constraint makes a second run on the same day a no-op.

A partner that removed its saved method gets no retry (its invoice waits for a bank transfer);
on the day after the last retry day, such an invoice is given up on too.
"""

from __future__ import annotations

import datetime
import zoneinfo

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Count, Min, Q
from django.utils import timezone

from billing.models import Invoice
from billing.models_invoicing import InvoiceStatus
from billing.services.invoice_payments import invoice_mark_uncollectible
from core.services.audit import audit_record, snapshot
from partners.services.partners import today_for_vendor

from ..enums import PaymentKind, PaymentStatus
from ..models import Payment, PaymentProfile
from .charges import SYSTEM, dispatch_charges, invoice_outstanding, max_attempts

__all__ = ["payments_retry_due", "retry_day"]


def retry_day(first_failure: datetime.date, failed_attempts: int) -> datetime.date | None:
    """The day the next retry is due after `failed_attempts` failures (None: no retry left)."""
    days = settings.PAYMENT_DUNNING_DAYS
    if failed_attempts > len(days):
        return None
    return first_failure + datetime.timedelta(days=days[failed_attempts - 1])


def _vendor_date(moment: datetime.datetime) -> datetime.date:
    zone = getattr(getattr(connection, "tenant", None), "timezone", None) or "UTC"
    return timezone.localtime(moment, zoneinfo.ZoneInfo(str(zone))).date()


def payments_retry_due(*, today: datetime.date | None = None) -> list[int]:
    """Create (and dispatch) the retries due today; returns the new attempt ids."""
    today = today or today_for_vendor()
    rows = (
        Payment.objects.filter(
            kind=PaymentKind.STRIPE, invoice__status=InvoiceStatus.PAYMENT_FAILED
        )
        .values("invoice_id")
        .annotate(
            attempts=Count("id"),
            failed=Count("id", filter=Q(status=PaymentStatus.FAILED)),
            open=Count(
                "id", filter=Q(status__in=[PaymentStatus.PENDING, PaymentStatus.PROCESSING])
            ),
            first_failure=Min("settled_at", filter=Q(status=PaymentStatus.FAILED)),
        )
        .order_by("invoice_id")
    )
    created: list[int] = []
    for row in rows:
        if row["open"] or row["first_failure"] is None:
            continue
        due = retry_day(_vendor_date(row["first_failure"]), row["failed"])
        if due is None:
            continue
        if due > today:
            continue
        payment_id = _retry(row["invoice_id"], row["attempts"] + 1)
        if payment_id is not None:
            created.append(payment_id)
    return created


def _retry(invoice_id: int, attempt: int) -> int | None:
    with transaction.atomic():
        invoice = Invoice.objects.select_for_update().get(pk=invoice_id)
        if invoice.status != InvoiceStatus.PAYMENT_FAILED or attempt > max_attempts():
            return None
        profile = PaymentProfile.objects.filter(partner_id=invoice.partner_id).first()
        if profile is None or not profile.charges_automatically:
            # No method to retry with: the invoice waits for a bank transfer — until the last
            # retry is due, then it is given up on like a failed last retry.
            if attempt == max_attempts():
                invoice_mark_uncollectible(invoice_id=invoice.pk, actor=SYSTEM)
            return None
        outstanding = invoice_outstanding(invoice)
        if outstanding <= 0:
            return None
        try:
            with transaction.atomic():
                payment = Payment.objects.create(
                    invoice=invoice,
                    partner_id=invoice.partner_id,
                    kind=PaymentKind.STRIPE,
                    attempt=attempt,
                    amount=outstanding,
                    currency=invoice.currency,
                    payment_method_label=profile.method_label,
                )
        except IntegrityError:
            return None  # created by a concurrent run
        audit_record(
            actor=SYSTEM,
            action="payment.retry_scheduled",
            instance=payment,
            after=snapshot(payment),
        )
        dispatch_charges([payment.pk])
        return payment.pk
