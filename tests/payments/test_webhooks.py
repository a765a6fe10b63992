"""POST /stripe/webhook/: signatures, replays, duplicates, any order — and localstripe's own
signed webhooks delivered to a live server."""

from __future__ import annotations

import datetime
import json
import random
import time
from decimal import Decimal

import pytest
from django.db import transaction
from django_tenants.utils import schema_context

from billing.models import Invoice
from billing.services.credit_notes import credit_note_create
from payments.errors import PaymentError
from payments.models import Payment, Refund, StripeEvent
from payments.services import charges, refunds
from payments.services.charges import payment_charge
from payments.services.manual import payment_record_manual
from payments.services.refunds import refund_execute
from tests.conftest import host_client
from tests.payments.support import (
    ACTOR,
    DECLINED_CHARGE_CARD,
    DECLINED_IBAN,
    billing_partner,
    client,
    draft_invoice,
    finalize,
    intents_of_attempt,
    save_method,
    sign,
)

pytestmark = pytest.mark.django_db
URL = "/stripe/webhook/"


def deliver(http, event: dict, **signing) -> object:
    payload = json.dumps(event).encode()
    return http.post(
        URL,
        payload,
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=sign(payload, **signing),
    )


def die(*args, **kwargs):
    raise SystemExit("worker killed after Stripe accepted")


def localstripe_events(object_ids: set[str]) -> list[dict]:
    """The events localstripe generated about these objects, oldest first."""
    found = [e.to_dict() for e in client().v1.events.list(params={"limit": 100}).auto_paging_iter()]
    return sorted(
        (e for e in found if e["data"]["object"].get("id") in object_ids),
        key=lambda e: (e["created"], e["id"]),
    )


def state(tv) -> dict:
    with schema_context(tv.schema):
        return {
            "invoices": sorted(Invoice.objects.values_list("pk", "status", "payment_reference")),
            "payments": sorted(
                Payment.objects.values_list("pk", "status", "stripe_payment_intent_id")
            ),
            "refunds": sorted(Refund.objects.values_list("pk", "status", "stripe_refund_id")),
            "events": StripeEvent.objects.count(),
        }


def test_forged_stale_and_unsigned_events_are_refused_and_change_nothing(vendor_a, stripe_on):
    http = host_client(vendor_a.host)
    event = {
        "id": "evt_forged_1",
        "type": "payment_intent.succeeded",
        "created": int(time.time()),
        "data": {"object": {"id": "pi_x", "metadata": {}}},
    }
    assert deliver(http, event, secret="whsec_wrong").status_code == 400
    assert deliver(http, event, timestamp=int(time.time()) - 3600).status_code == 400
    unsigned = http.post(URL, json.dumps(event), content_type="application/json")
    assert unsigned.status_code == 400
    with schema_context(vendor_a.schema):
        assert not StripeEvent.objects.exists()
    ok = deliver(http, event)
    assert ok.status_code == 200
    assert ok.json() == {"received": True, "outcome": "ignored: not this vendor's"}
    assert deliver(http, event).json()["outcome"] == "duplicate"
    with schema_context(vendor_a.schema):
        assert StripeEvent.objects.get().event_id == "evt_forged_1"


def test_webhooks_are_refused_without_a_secret(vendor_a, stripe_off):
    response = host_client(vendor_a.host).post(URL, b"{}", content_type="application/json")
    assert response.status_code == 400


def test_webhook_chaos_duplicates_any_order_forged_and_stale(vendor_a, stripe_on, monkeypatch):
    """Three invoices whose outcome only the webhooks can record (the workers died after Stripe
    accepted): X charged, then credited in full and refunded; Y declined; Z declined once and
    paid by the retry. Delivered in order, or shuffled with duplicates, forged and stale copies:
    the same final state."""
    http = host_client(vendor_a.host)
    with schema_context(vendor_a.schema):
        px, py, pz = (
            billing_partner("Xeno IT"),
            billing_partner("Yak IT"),
            billing_partner("Zebu IT"),
        )
        save_method(px)
        save_method(py, card=DECLINED_CHARGE_CARD)
        save_method(pz, card=DECLINED_CHARGE_CARD)
        x, y, z = (draft_invoice(p, "10.00") for p in (px, py, pz))
        finalize()
        x_pay, y_pay, z_pay = (Payment.objects.get(invoice=i) for i in (x, y, z))
        payment_charge(payment_id=x_pay.pk)  # recorded: paid
        payment_charge(payment_id=z_pay.pk)  # recorded: failed
        note = credit_note_create(invoice=x, reason="Outage", amount=Decimal("10.00"), actor=ACTOR)
        refund = Refund.objects.get(credit_note=note)
        save_method(pz)  # Z's billing user saves a working card; the retry is due
        import datetime

        from payments.services.dunning import payments_retry_due

        [z_retry] = payments_retry_due(today=datetime.date(2027, 1, 1))
        monkeypatch.setattr(charges, "record_outcome", die)
        monkeypatch.setattr(refunds, "refund_settle", die)
        for payment_id in (y_pay.pk, z_retry):
            with pytest.raises(SystemExit):
                payment_charge(payment_id=payment_id)
        with pytest.raises(SystemExit):
            refund_execute(refund_id=refund.pk)
        monkeypatch.undo()
        ids = {
            intent["id"]
            for attempt in (x_pay.pk, y_pay.pk, z_pay.pk, z_retry)
            for intent in intents_of_attempt(attempt)
        }
        assert len(ids) == 4
        events = localstripe_events(ids)
        x_intent = client().v1.payment_intents.retrieve(
            Payment.objects.get(pk=x_pay.pk).stripe_payment_intent_id
        )
    # localstripe does not send charge.refunded: build it as Stripe would, from its charge.
    charge = client().v1.charges.retrieve(x_intent.latest_charge.id).to_dict()
    assert charge["refunded"] is True
    events.append(
        {
            "id": "evt_charge_refunded_x",
            "object": "event",
            "type": "charge.refunded",
            "created": int(time.time()),
            "data": {"object": charge},
        }
    )
    assert sorted(e["type"] for e in events) == sorted(
        [
            "payment_intent.succeeded",
            "payment_intent.succeeded",
            "payment_intent.payment_failed",
            "payment_intent.payment_failed",
            "charge.refunded",
        ]
    )

    before = state(vendor_a)
    with transaction.atomic():
        for event in events:
            assert deliver(http, event).status_code == 200
        in_order = state(vendor_a)
        transaction.set_rollback(True)
    assert state(vendor_a) == before

    rng = random.Random(5)
    shuffled = [e for e in events for _ in range(rng.randint(2, 3))]
    rng.shuffle(shuffled)
    outcomes = []
    for event in shuffled:
        forged = {**event, "data": {"object": {**event["data"]["object"], "status": "succeeded"}}}
        assert deliver(http, forged, secret="whsec_attacker").status_code == 400
        assert deliver(http, event, timestamp=int(time.time()) - 301).status_code == 400
        response = deliver(http, event)
        assert response.status_code == 200
        outcomes.append(response.json()["outcome"])
    assert outcomes.count("duplicate") == len(shuffled) - len(events)
    assert state(vendor_a) == in_order
    with schema_context(vendor_a.schema):
        statuses = dict(
            Invoice.objects.filter(pk__in=[x.pk, y.pk, z.pk]).values_list("pk", "status")
        )
        assert statuses == {x.pk: "refunded", y.pk: "payment_failed", z.pk: "paid"}
        assert Refund.objects.get(pk=refund.pk).status == "succeeded"
        assert StripeEvent.objects.count() == len(events)


def test_a_sepa_debit_is_processing_until_the_webhook_reports_its_outcome(vendor_a, stripe_on):
    """localstripe settles SEPA debits later (like Stripe): the charge task records
    `processing`; the failure arrives as payment_intent.payment_failed."""
    with schema_context(vendor_a.schema):
        partner = billing_partner()
        save_method(partner, iban=DECLINED_IBAN)
        invoice = draft_invoice(partner, "10.00")
        finalize()
        payment = Payment.objects.get(invoice=invoice)
        assert payment_charge(payment_id=payment.pk) == "processing"
        payment.refresh_from_db()
        assert payment.status == "processing"
        assert Invoice.objects.get(pk=invoice.pk).status == "open"
        with pytest.raises(PaymentError, match="in progress"):
            payment_record_manual(
                invoice=invoice,
                amount=Decimal("11.90"),
                received_on=datetime.date(2026, 11, 3),
                reference="X",
                actor=ACTOR,
            )
    deadline = time.monotonic() + 10
    events: list[dict] = []
    while time.monotonic() < deadline and not events:
        time.sleep(0.2)
        events = [
            e
            for e in localstripe_events({payment.stripe_payment_intent_id})
            if e["type"] == "payment_intent.payment_failed"
        ]
    [event] = events
    response = deliver(host_client(vendor_a.host), event)
    assert response.json()["outcome"] == f"applied: payment {payment.pk} failed"
    with schema_context(vendor_a.schema):
        payment.refresh_from_db()
        assert (payment.status, payment.failure_code) == ("failed", "card_declined")
        assert Invoice.objects.get(pk=invoice.pk).status == "payment_failed"
