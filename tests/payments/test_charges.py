"""Charging finalized invoices through localstripe: customers, SetupIntents, payment methods,
off-session PaymentIntents (success and declines), and exactly-once."""

from __future__ import annotations

from decimal import Decimal

import pytest
import stripe
from django.core import mail
from django_tenants.utils import schema_context

from billing.models import Invoice
from billing.models_invoicing import InvoiceStatus
from billing.services.periods import PeriodStateError
from payments import stripe_api
from payments.enums import CollectionMethod, PaymentKind, PaymentStatus
from payments.errors import PaymentError
from payments.models import Payment, PaymentProfile
from payments.services import charges
from payments.services.charges import payment_charge
from payments.services.notifications import send_payment_failed_email
from payments.services.profiles import payment_method_save, setup_intent_start
from payments.tasks import charge_payment
from tests.payments.support import (
    ACTOR,
    DECLINED_CHARGE_CARD,
    DECLINED_SETUP_CARD,
    GOOD_IBAN,
    billing_partner,
    client,
    draft_invoice,
    finalize,
    intents_of_attempt,
    save_method,
    stripe_js_confirm,
)

pytestmark = pytest.mark.django_db


def ours(callbacks, module: str = "payments.services.charges") -> list:
    return [c for c in callbacks if c.__module__ == module]


def killed_after_stripe_accepted(payment: Payment, monkeypatch) -> None:
    """Run the charge task's body but kill the worker after Stripe accepted the charge and
    before it was recorded (the seam `record_outcome`); the seam is restored afterwards."""

    def die(*args, **kwargs):
        raise SystemExit("worker killed after Stripe accepted the charge")

    with monkeypatch.context() as patch:
        patch.setattr(charges, "record_outcome", die)
        with pytest.raises(SystemExit):
            payment_charge(payment_id=payment.pk)


def test_saving_a_card_creates_the_customer_once_and_stores_the_method(vendor_a, stripe_on):
    with schema_context(vendor_a.schema):
        partner = billing_partner()
        save_method(partner)
        profile = PaymentProfile.objects.get(partner=partner)
        first_customer = profile.stripe_customer_id
        save_method(partner, card="5555555555554444")
        profile.refresh_from_db()
        assert profile.stripe_customer_id == first_customer  # created lazily, once
        customer = client().v1.customers.retrieve(first_customer)
        assert customer.metadata.to_dict() == {
            "partner_id": str(partner.pk),
            "tenant": vendor_a.schema,
        }
        assert customer.name == "Kestrel IT"
        assert (profile.method, profile.payment_method_kind, profile.brand, profile.last4) == (
            CollectionMethod.STRIPE,
            "card",
            "visa",  # localstripe calls every card a visa
            "4444",
        )
        assert (profile.exp_month, profile.exp_year) == (12, 2030)
        assert profile.method_label == "Visa ···· 4444"


def test_saving_a_sepa_debit(vendor_a, stripe_on):
    with schema_context(vendor_a.schema):
        partner = billing_partner()
        save_method(partner, iban=GOOD_IBAN)
        profile = PaymentProfile.objects.get(partner=partner)
        assert (profile.payment_method_kind, profile.last4, profile.method_label) == (
            "sepa_debit",
            "3000",
            "SEPA debit ···· 3000",
        )


def test_a_card_refused_at_setup_is_not_saved(vendor_a, stripe_on):
    with schema_context(vendor_a.schema):
        partner = billing_partner()
        started = setup_intent_start(partner=partner, actor=ACTOR)
        answer = stripe_js_confirm(
            {"client_secret": started.client_secret}, card=DECLINED_SETUP_CARD
        )
        assert answer["error"]["code"] == "card_declined"
        with pytest.raises(PaymentError, match="not confirmed"):
            payment_method_save(
                partner=partner, setup_intent_id=started.setup_intent_id, actor=ACTOR
            )
        assert PaymentProfile.objects.get(partner=partner).method == CollectionMethod.BANK_TRANSFER


def test_another_partners_setup_intent_is_refused(vendor_a, stripe_on):
    with schema_context(vendor_a.schema):
        alpha, bravo = billing_partner("Alpha IT"), billing_partner("Bravo IT")
        started = setup_intent_start(partner=bravo, actor=ACTOR)
        stripe_js_confirm({"client_secret": started.client_secret})
        setup_intent_start(partner=alpha, actor=ACTOR)  # alpha has a customer too
        with pytest.raises(PaymentError, match="another customer"):
            payment_method_save(partner=alpha, setup_intent_id=started.setup_intent_id, actor=ACTOR)
        assert not PaymentProfile.objects.get(partner=alpha).charges_automatically


def test_finalize_charges_each_invoice_once_off_session(
    vendor_a, stripe_on, django_capture_on_commit_callbacks
):
    with schema_context(vendor_a.schema):
        partner = billing_partner()
        save_method(partner)
        invoice = draft_invoice(partner, "100.00")  # + 19 % tax = 119.00
        with django_capture_on_commit_callbacks() as callbacks:
            finalize()
        payment = Payment.objects.get(invoice=invoice)
        assert (payment.kind, payment.attempt, payment.status, payment.amount) == (
            PaymentKind.STRIPE,
            1,
            PaymentStatus.PENDING,
            Decimal("119.0000"),
        )
        # The charge task is dispatched after commit (other apps react to finalize too).
        assert len(ours(callbacks)) == 1

        assert payment_charge(payment_id=payment.pk) == PaymentStatus.SUCCEEDED
        payment.refresh_from_db()
        invoice.refresh_from_db()
        assert payment.status == PaymentStatus.SUCCEEDED
        assert invoice.status == InvoiceStatus.PAID
        assert invoice.payment_reference == payment.stripe_payment_intent_id
        [intent] = intents_of_attempt(payment.pk)
        assert intent["id"] == payment.stripe_payment_intent_id
        assert (intent["amount"], intent["currency"], intent["status"]) == (
            11900,
            "eur",
            "succeeded",
        )
        assert intent["customer"] == PaymentProfile.objects.get(partner=partner).stripe_customer_id
        assert intent["metadata"] == {
            "tenant": vendor_a.schema,
            "invoice_id": str(invoice.pk),
            "attempt": str(payment.pk),
            "attempt_number": "1",
        }
        # The task again (a redelivery), and finalizing again: nothing more is charged.
        assert payment_charge(payment_id=payment.pk) == "nothing to do"
        with pytest.raises(PeriodStateError):
            finalize()
        assert len(intents_of_attempt(payment.pk)) == 1
        assert Payment.objects.filter(invoice=invoice).count() == 1


def test_zero_invoices_are_paid_and_bank_transfer_partners_wait(vendor_a, stripe_on):
    with schema_context(vendor_a.schema):
        card_partner = billing_partner("Card IT")
        save_method(card_partner)
        zero = draft_invoice(card_partner, "0.00")
        transfer = draft_invoice(billing_partner("Transfer IT"), "50.00")
        finalize()
        zero.refresh_from_db()
        transfer.refresh_from_db()
        assert (zero.status, zero.payment_reference) == (InvoiceStatus.PAID, "Nothing to pay")
        assert transfer.status == InvoiceStatus.OPEN
        assert not Payment.objects.filter(invoice__in=[zero, transfer]).exists()


def test_without_stripe_keys_nothing_is_charged(vendor_a, stripe_on, settings):
    with schema_context(vendor_a.schema):
        partner = billing_partner()
        save_method(partner)
        invoice = draft_invoice(partner, "10.00")
        settings.STRIPE_SECRET_KEY = ""
        assert not stripe_api.configured()
        finalize()
        invoice.refresh_from_db()
        assert invoice.status == InvoiceStatus.OPEN
        assert not Payment.objects.filter(invoice=invoice).exists()


def test_a_declined_charge_fails_the_invoice_and_emails_the_billing_users(
    vendor_a, stripe_on, django_capture_on_commit_callbacks
):
    with schema_context(vendor_a.schema):
        partner = billing_partner()
        save_method(partner, card=DECLINED_CHARGE_CARD)
        invoice = draft_invoice(partner, "20.00")
        finalize()
        payment = Payment.objects.get(invoice=invoice)
        with django_capture_on_commit_callbacks() as callbacks:
            assert payment_charge(payment_id=payment.pk) == PaymentStatus.FAILED
        payment.refresh_from_db()
        invoice.refresh_from_db()
        assert (payment.status, payment.failure_code, payment.failure_message) == (
            PaymentStatus.FAILED,
            "card_declined",
            "Your card was declined.",
        )
        assert invoice.status == InvoiceStatus.PAYMENT_FAILED
        [intent] = intents_of_attempt(payment.pk)  # found by metadata after the 402
        assert payment.stripe_payment_intent_id == intent["id"]
        assert len(ours(callbacks, "payments.services.notifications")) == 1  # the email task
        assert send_payment_failed_email(payment_id=payment.pk, final=False) == 2
        [message] = mail.outbox
        assert sorted(message.to) == ["billing@kestrel.example", "owner@kestrel.example"]
        assert message.subject == f"Payment of invoice {invoice.number} failed"
        assert "Your card was declined." in message.body
        assert "23,80" in message.body or "23.80" in message.body


def test_a_worker_killed_between_the_charge_and_recording_it_never_charges_twice(
    vendor_a, stripe_on, monkeypatch
):
    with schema_context(vendor_a.schema):
        partner = billing_partner()
        save_method(partner)
        invoice = draft_invoice(partner, "40.00")
        finalize()
        payment = Payment.objects.get(invoice=invoice)
        killed_after_stripe_accepted(payment, monkeypatch)
        payment.refresh_from_db()
        # Stripe charged; we recorded nothing but the call.
        assert (payment.status, payment.stripe_calls, payment.stripe_payment_intent_id) == (
            PaymentStatus.PENDING,
            1,
            None,
        )
        assert [i["status"] for i in intents_of_attempt(payment.pk)] == ["succeeded"]

        assert payment_charge(payment_id=payment.pk) == PaymentStatus.SUCCEEDED
        payment.refresh_from_db()
        [intent] = intents_of_attempt(payment.pk)  # still exactly one
        assert payment.stripe_payment_intent_id == intent["id"]
        assert payment.stripe_calls == 2
        assert Invoice.objects.get(pk=invoice.pk).status == InvoiceStatus.PAID


def test_an_attempt_for_an_invoice_settled_meanwhile_is_canceled_without_calling_stripe(
    vendor_a, stripe_on
):
    with schema_context(vendor_a.schema):
        partner = billing_partner()
        save_method(partner)
        invoice = draft_invoice(partner, "40.00")
        finalize()
        payment = Payment.objects.get(invoice=invoice)
        Invoice.objects.filter(pk=invoice.pk).update(status=InvoiceStatus.UNCOLLECTIBLE)
        assert payment_charge(payment_id=payment.pk) == "canceled: invoice settled"
        payment.refresh_from_db()
        assert payment.status == PaymentStatus.CANCELED
        assert intents_of_attempt(payment.pk) == []


def test_a_charge_stripe_refuses_outright_fails_the_attempt_for_dunning(
    vendor_a, stripe_on, monkeypatch
):
    with schema_context(vendor_a.schema):
        partner = billing_partner()
        save_method(partner)
        invoice = draft_invoice(partner, "40.00")
        finalize()
        payment = Payment.objects.get(invoice=invoice)

        def refuse(**kwargs):
            raise stripe.InvalidRequestError("The payment method was detached.", param="pm")

        monkeypatch.setattr(stripe_api, "payment_intent_create", refuse)
        assert payment_charge(payment_id=payment.pk) == PaymentStatus.FAILED
        payment.refresh_from_db()
        assert (payment.status, payment.failure_message) == (
            PaymentStatus.FAILED,
            "The payment method was detached.",
        )
        assert Invoice.objects.get(pk=invoice.pk).status == InvoiceStatus.PAYMENT_FAILED


def test_stripe_unreachable_leaves_the_attempt_for_the_task_retry_which_charges_once(
    vendor_a, stripe_on, monkeypatch
):
    with schema_context(vendor_a.schema):
        partner = billing_partner()
        save_method(partner)
        invoice = draft_invoice(partner, "40.00")
        finalize()
        payment = Payment.objects.get(invoice=invoice)
        real_create = stripe_api.payment_intent_create

        def unreachable(**kwargs):
            raise stripe.APIConnectionError("Could not connect to Stripe.")

        monkeypatch.setattr(stripe_api, "payment_intent_create", unreachable)
        with pytest.raises(stripe_api.TRANSIENT_ERRORS):
            payment_charge(payment_id=payment.pk)
        payment.refresh_from_db()
        assert payment.status == PaymentStatus.PENDING
        # The task retries on exactly these errors.
        assert set(charge_payment.autoretry_for) == set(stripe_api.TRANSIENT_ERRORS)

        monkeypatch.setattr(stripe_api, "payment_intent_create", real_create)
        assert payment_charge(payment_id=payment.pk) == PaymentStatus.SUCCEEDED
        assert len(intents_of_attempt(payment.pk)) == 1
        assert Invoice.objects.get(pk=invoice.pk).status == InvoiceStatus.PAID


def test_a_charge_left_pending_is_resumed_by_the_beat_job_and_charged_once(
    vendor_a, stripe_on, monkeypatch, settings, django_capture_on_commit_callbacks
):
    """The task was lost after Stripe accepted the charge (or its retries ran out): the beat
    sweep picks the stale attempt up, and its re-run finds the PaymentIntent instead of
    charging again."""
    import datetime

    from django.utils import timezone

    from msp_program.beat_schedule import BEAT_SCHEDULE
    from payments import tasks

    with schema_context(vendor_a.schema):
        partner = billing_partner()
        save_method(partner)
        invoice = draft_invoice(partner, "40.00")
        finalize()
        payment = Payment.objects.get(invoice=invoice)
        killed_after_stripe_accepted(payment, monkeypatch)

        settings.PAYMENT_RESUME_AFTER_MINUTES = 300
        now = timezone.now()
        assert charges.payments_to_resume(now=now) == []  # moved just now: its retry may come
        later = now + datetime.timedelta(minutes=301)
        assert charges.payments_to_resume(now=later) == [payment.pk]

        sent = []
        monkeypatch.setattr(tasks.charge_payment, "delay", sent.append)
        with django_capture_on_commit_callbacks(execute=True):
            assert charges.payments_resume(now=later) == [payment.pk]
        assert sent == [payment.pk]

        assert payment_charge(payment_id=payment.pk) == PaymentStatus.SUCCEEDED  # the task body
        assert len(intents_of_attempt(payment.pk)) == 1
        assert Invoice.objects.get(pk=invoice.pk).status == InvoiceStatus.PAID
        # Settled: nothing left for the sweep.
        assert charges.payments_to_resume(now=later) == []
    entry = BEAT_SCHEDULE["resume-pending-charges"]
    assert entry["args"] == ("payments.tasks.resume_pending_charges",)
