"""Refunds of credit notes on invoices paid through Stripe, exactly once."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django_tenants.utils import schema_context

from billing.models_invoicing import InvoiceStatus
from billing.services.credit_notes import credit_note_create
from payments.enums import RefundStatus
from payments.models import Payment, Refund
from payments.services import refunds as refund_service
from payments.services.charges import payment_charge
from payments.services.refunds import refund_execute
from tests.payments.support import (
    ACTOR,
    billing_partner,
    client,
    draft_invoice,
    finalize,
    save_method,
)

pytestmark = pytest.mark.django_db


def paid_invoice(amount: str = "100.00"):
    partner = billing_partner()
    save_method(partner)
    invoice = draft_invoice(partner, amount)
    finalize()
    payment = Payment.objects.get(invoice=invoice)
    payment_charge(payment_id=payment.pk)
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.PAID
    return invoice, Payment.objects.get(pk=payment.pk)


def stripe_refunds(payment: Payment) -> list[dict]:
    return [
        r.to_dict()
        for r in client()
        .v1.refunds.list(params={"payment_intent": payment.stripe_payment_intent_id, "limit": 100})
        .auto_paging_iter()
    ]


def test_a_full_credit_note_refunds_through_stripe_and_the_invoice_is_refunded(vendor_a, stripe_on):
    with schema_context(vendor_a.schema):
        invoice, payment = paid_invoice()  # 119.00
        note = credit_note_create(
            invoice=invoice, reason="Service outage", amount=Decimal("100.00"), actor=ACTOR
        )
        refund = Refund.objects.get(credit_note=note)
        assert (refund.amount, refund.status, refund.payment_id) == (
            Decimal("119.0000"),
            RefundStatus.PENDING,
            payment.pk,
        )
        assert refund_execute(refund_id=refund.pk) == RefundStatus.SUCCEEDED
        assert refund_execute(refund_id=refund.pk) == "nothing to do"
        [found] = stripe_refunds(payment)
        refund.refresh_from_db()
        assert found["id"] == refund.stripe_refund_id
        assert (found["amount"], found["metadata"]) == (
            11900,
            {
                "tenant": vendor_a.schema,
                "refund": str(refund.pk),
                "credit_note_id": str(note.pk),
                "invoice_id": str(invoice.pk),
            },
        )
        invoice.refresh_from_db()
        assert invoice.status == InvoiceStatus.REFUNDED


def test_a_partial_credit_note_refunds_its_total_and_the_invoice_stays_paid(vendor_a, stripe_on):
    with schema_context(vendor_a.schema):
        invoice, payment = paid_invoice()
        note = credit_note_create(
            invoice=invoice, reason="Goodwill", amount=Decimal("10.00"), actor=ACTOR
        )
        refund = Refund.objects.get(credit_note=note)
        assert refund.amount == Decimal("11.9000")  # the credit note's total, tax included
        refund_execute(refund_id=refund.pk)
        assert [r["amount"] for r in stripe_refunds(payment)] == [1190]
        invoice.refresh_from_db()
        assert invoice.status == InvoiceStatus.PAID


def test_a_refund_interrupted_after_stripe_accepted_it_is_found_not_repeated(
    vendor_a, stripe_on, monkeypatch
):
    with schema_context(vendor_a.schema):
        invoice, payment = paid_invoice()
        note = credit_note_create(
            invoice=invoice, reason="Outage", amount=Decimal("100.00"), actor=ACTOR
        )
        refund = Refund.objects.get(credit_note=note)
        real_settle = refund_service.refund_settle

        def die(**kwargs):
            raise SystemExit("worker killed")

        monkeypatch.setattr(refund_service, "refund_settle", die)
        with pytest.raises(SystemExit):
            refund_execute(refund_id=refund.pk)
        assert len(stripe_refunds(payment)) == 1
        monkeypatch.setattr(refund_service, "refund_settle", real_settle)
        assert refund_execute(refund_id=refund.pk) == RefundStatus.SUCCEEDED
        assert len(stripe_refunds(payment)) == 1
        refund.refresh_from_db()
        assert refund.stripe_calls == 2
        assert invoice.__class__.objects.get(pk=invoice.pk).status == InvoiceStatus.REFUNDED


def test_credit_notes_on_invoices_not_paid_by_stripe_make_no_refund(vendor_a, stripe_on):
    with schema_context(vendor_a.schema):
        invoice = draft_invoice(billing_partner(), "30.00")
        finalize()
        invoice.refresh_from_db()
        credit_note_create(invoice=invoice, reason="Typo", amount=Decimal("5.00"), actor=ACTOR)
        assert not Refund.objects.exists()
