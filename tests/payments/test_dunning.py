"""Dunning: retries on PAYMENT_DUNNING_DAYS after the first failure, then uncollectible."""

from __future__ import annotations

import datetime

import pytest
from django.core import mail
from django_tenants.utils import schema_context

from billing.models import Invoice
from billing.models_invoicing import InvoiceStatus
from msp_program.beat_schedule import BEAT_SCHEDULE
from payments.enums import PaymentStatus
from payments.models import Payment
from payments.services.charges import payment_charge
from payments.services.dunning import payments_retry_due, retry_day
from payments.services.notifications import send_payment_failed_email
from payments.services.profiles import payment_method_remove
from tests.payments.support import (
    ACTOR,
    DECLINED_CHARGE_CARD,
    billing_partner,
    draft_invoice,
    finalize,
    save_method,
)

pytestmark = pytest.mark.django_db
D = datetime.date
UTC = datetime.UTC


def failed_first_charge(card: str = DECLINED_CHARGE_CARD):
    partner = billing_partner()
    save_method(partner, card=card)
    invoice = draft_invoice(partner, "10.00")
    finalize()
    payment = Payment.objects.get(invoice=invoice)
    payment_charge(payment_id=payment.pk)
    # The first failure happened on 2 Nov (vendor time, Europe/Berlin).
    Payment.objects.filter(pk=payment.pk).update(
        settled_at=datetime.datetime(2026, 11, 2, 9, tzinfo=UTC)
    )
    return partner, invoice


def test_retry_days_count_from_the_first_failure(settings):
    settings.PAYMENT_DUNNING_DAYS = [3, 7, 14]
    first = D(2026, 11, 2)
    assert [retry_day(first, n) for n in (1, 2, 3, 4)] == [
        D(2026, 11, 5),
        D(2026, 11, 9),
        D(2026, 11, 16),
        None,
    ]


def test_failed_charges_are_retried_on_schedule_then_the_invoice_is_uncollectible(
    vendor_a, stripe_on
):
    with schema_context(vendor_a.schema):
        _, invoice = failed_first_charge()
        assert payments_retry_due(today=D(2026, 11, 4)) == []
        for attempt, day in ((2, D(2026, 11, 5)), (3, D(2026, 11, 9)), (4, D(2026, 11, 16))):
            [retry] = payments_retry_due(today=day)
            assert payments_retry_due(today=day) == []  # the beat job twice: one retry
            payment = Payment.objects.get(pk=retry)
            assert (payment.attempt, payment.status) == (attempt, PaymentStatus.PENDING)
            payment_charge(payment_id=retry)
            Payment.objects.filter(pk=retry).update(
                settled_at=datetime.datetime.combine(day, datetime.time(9), tzinfo=UTC)
            )
        invoice.refresh_from_db()
        assert invoice.status == InvoiceStatus.UNCOLLECTIBLE
        assert payments_retry_due(today=D(2026, 12, 31)) == []
        assert list(
            Payment.objects.filter(invoice=invoice)
            .order_by("attempt")
            .values_list("attempt", "status")
        ) == [(n, PaymentStatus.FAILED) for n in (1, 2, 3, 4)]
        last = Payment.objects.get(invoice=invoice, attempt=4)
        send_payment_failed_email(payment_id=last.pk, final=True)
        assert mail.outbox[-1].subject == f"Invoice {invoice.number} could not be collected"
        assert "uncollectible" in mail.outbox[-1].body


def test_a_retry_with_a_new_card_pays_the_invoice(vendor_a, stripe_on):
    with schema_context(vendor_a.schema):
        partner, invoice = failed_first_charge()
        save_method(partner)  # the partner saves a working card after the email
        [retry] = payments_retry_due(today=D(2026, 11, 5))
        assert payment_charge(payment_id=retry) == PaymentStatus.SUCCEEDED
        invoice.refresh_from_db()
        assert invoice.status == InvoiceStatus.PAID
        assert payments_retry_due(today=D(2026, 11, 9)) == []


def test_without_a_method_no_retry_and_the_last_retry_day_gives_up(vendor_a, stripe_on):
    with schema_context(vendor_a.schema):
        partner, invoice = failed_first_charge()
        payment_method_remove(partner=partner, actor=ACTOR)
        assert payments_retry_due(today=D(2026, 11, 5)) == []
        assert Invoice.objects.get(pk=invoice.pk).status == InvoiceStatus.PAYMENT_FAILED
        assert Payment.objects.filter(invoice=invoice).count() == 1


def test_the_beat_schedule_runs_the_retries_daily_per_vendor():
    entry = BEAT_SCHEDULE["retry-failed-payments"]
    assert entry["task"] == "tenancy.tasks.fan_out_to_vendors"
    assert entry["args"] == ("payments.tasks.retry_failed_payments",)
    assert entry["schedule"].hour == {6}
