"""A real Celery worker process charges the invoices of a finalized month through localstripe;
the charge task delivered three times (finalize's dispatch and two redeliveries) charges once."""

from __future__ import annotations

import time

import pytest
from django_tenants.utils import schema_context

from billing.models import Invoice
from partners.models import Partner
from payments.models import Payment
from payments.tasks import charge_payment
from tests.celery_worker import log_tail, start_worker
from tests.committed import committed
from tests.payments.support import draft_invoice, finalize, intents_of_attempt, save_method

pytestmark = [pytest.mark.worker, pytest.mark.django_db]


def test_a_worker_charges_the_finalized_month_once(live_vendor, stripe_on, monkeypatch):
    for name in ("STRIPE_SECRET_KEY", "STRIPE_PUBLISHABLE_KEY", "STRIPE_API_BASE"):
        from django.conf import settings

        monkeypatch.setenv(name, getattr(settings, name))

    def setup() -> int:
        with schema_context(live_vendor.schema):
            partner = Partner.objects.get(pk=live_vendor.partner_id)
            save_method(partner)
            invoice = draft_invoice(partner, "25.00")
            return invoice.pk

    def finalize_and_redeliver(invoice_id: int) -> int:
        with schema_context(live_vendor.schema):
            finalize()  # dispatches the charge on commit
            payment = Payment.objects.get(invoice_id=invoice_id)
            charge_payment.delay(payment.pk)  # a broker redelivering it, twice
            charge_payment.delay(payment.pk)
            return payment.pk

    def state(invoice_id: int) -> tuple:
        with schema_context(live_vendor.schema):
            payment = Payment.objects.get(invoice_id=invoice_id)
            invoice = Invoice.objects.get(pk=invoice_id)
            return (invoice.status, payment.status, payment.stripe_calls)

    invoice_id = committed(setup)
    worker = start_worker("payments")
    try:
        payment_id = committed(finalize_and_redeliver, invoice_id)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and committed(state, invoice_id)[0] != "paid":
            time.sleep(0.2)
        time.sleep(1.0)  # let the redeliveries run too
        assert committed(state, invoice_id) == ("paid", "succeeded", 1), log_tail(worker.log_file)

        def intents() -> int:
            with schema_context(live_vendor.schema):
                return len(intents_of_attempt(payment_id))

        # On a connection of its own: the test's transaction must not hold locks on the
        # schema that teardown drops.
        assert committed(intents) == 1
    finally:
        worker.stop()
        worker.cleanup()
