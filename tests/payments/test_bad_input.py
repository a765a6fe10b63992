"""Junk sent to POST /api/v1/payments/, the Stripe webhook and the payment-method page: always a
clear 4xx (problem+json on the API), never a 500, and nothing written."""

from __future__ import annotations

import json

import pytest
from django_tenants.utils import schema_context

from accounts.enums import PartnerRole
from core.api.problems import PROBLEM_CONTENT_TYPE
from payments.models import Payment, PaymentProfile, StripeEvent
from tests.conftest import host_client, make_api_key
from tests.partners.program_fixtures import audit_actions, portal_client
from tests.payments.support import billing_partner, draft_invoice, finalize, sign

pytestmark = pytest.mark.django_db
PAYMENTS = "/api/v1/payments/"
WEBHOOK = "/stripe/webhook/"
METHOD = "/portal/payments/method/"


def open_invoice():
    invoice = draft_invoice(billing_partner("Junk IT"), "100.00")
    finalize()
    invoice.refresh_from_db()
    return invoice


GOOD = {"amount": "10.00", "received_on": "2026-11-10", "reference": "R1"}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ("{not json", None),
        ("[1, 2]", None),
        ('"text"', None),
        (json.dumps({**GOOD}), "invoice"),
        (json.dumps({**GOOD, "invoice": "abc"}), "invoice"),
        (json.dumps({**GOOD, "invoice": 10**30}), "invoice"),
        (json.dumps({**GOOD, "invoice": -1}), "invoice"),
        (json.dumps({**GOOD, "invoice": 987654}), "invoice"),
        (json.dumps({**GOOD, "invoice": [1]}), "invoice"),
        (json.dumps({**GOOD, "invoice": "@inv", "amount": "NaN"}), "amount"),
        (json.dumps({**GOOD, "invoice": "@inv", "amount": "Infinity"}), "amount"),
        (json.dumps({**GOOD, "invoice": "@inv", "amount": 1e400}), None),  # not JSON: Infinity
        (json.dumps({**GOOD, "invoice": "@inv", "amount": "-5"}), "amount"),
        (json.dumps({**GOOD, "invoice": "@inv", "amount": {"x": 1}}), "amount"),
        # Decimals are strings: a JSON number with a fraction is refused, not read as a float.
        (json.dumps({**GOOD, "invoice": "@inv", "amount": 10.5}), "decimal string"),
        (json.dumps({**GOOD, "invoice": "@inv", "amount": True}), "decimal string"),
        (json.dumps({**GOOD, "invoice": "@inv", "received_on": "2026-13-40"}), "received_on"),
        (json.dumps({**GOOD, "invoice": "@inv", "received_on": 5}), "received_on"),
        (json.dumps({**GOOD, "invoice": "@inv", "received_on": "9999-12-31"}), "received_on"),
        (json.dumps({**GOOD, "invoice": "@inv", "reference": ""}), "reference"),
        (json.dumps({**GOOD, "invoice": "@inv", "reference": "   "}), "reference"),
        (json.dumps({**GOOD, "invoice": "@inv", "reference": "x" * 201}), "reference"),
        (json.dumps({**GOOD, "invoice": "@inv", "reference": None}), "reference"),
        (json.dumps({**GOOD, "invoice": "@inv", "status": "succeeded"}), "status"),
    ],
)
def test_junk_manual_payments_are_problems_and_write_nothing(vendor_a, stripe_off, body, field):
    with schema_context(vendor_a.schema):
        invoice = open_invoice()
    http = host_client(vendor_a.host, HTTP_AUTHORIZATION=f"Bearer {make_api_key(vendor_a)}")
    response = http.post(
        PAYMENTS, body.replace('"@inv"', str(invoice.pk)), content_type="application/json"
    )
    assert response.status_code == 400, response.content
    assert response["Content-Type"] == PROBLEM_CONTENT_TYPE
    if field:
        assert field in json.dumps(response.json()), response.json()
    with schema_context(vendor_a.schema):
        assert not Payment.objects.exists()


def deliver(http, payload: bytes):
    return http.post(
        WEBHOOK, payload, content_type="application/json", HTTP_STRIPE_SIGNATURE=sign(payload)
    )


def intent_event(**obj) -> dict:
    return {
        "id": "evt_junk",
        "type": "payment_intent.succeeded",
        "created": 1700000000,
        "data": {"object": {"id": "pi_junk", "object": "payment_intent", **obj}},
    }


@pytest.mark.parametrize(
    "payload",
    [
        b"{not json",
        b"",
        b"[1, 2]",
        b'"text"',
        b"null",
        json.dumps({"id": "evt_1", "type": "payment_intent.succeeded", "data": []}).encode(),
        json.dumps({"id": "evt_1", "type": "payment_intent.succeeded", "data": "x"}).encode(),
        json.dumps(
            {"id": "evt_1", "type": "payment_intent.succeeded", "data": {"object": [1]}}
        ).encode(),
        json.dumps({**intent_event(), "created": "yesterday"}).encode(),
        json.dumps({**intent_event(), "created": 10**20}).encode(),
        json.dumps({**intent_event(), "type": ["x"]}).encode(),
        json.dumps({**intent_event(), "id": "evt_" + "x" * 300}).encode(),
        json.dumps({**intent_event(), "id": 7}).encode(),
        json.dumps(
            {
                **intent_event(metadata={"tenant": "@schema"}, last_payment_error="card_declined"),
                "type": "payment_intent.payment_failed",
            }
        ).encode(),
        json.dumps(intent_event(metadata="tenant")).encode(),
        json.dumps(
            intent_event(metadata={"tenant": "@schema", "attempt": "1", "invoice_id": "abc"})
        ).encode(),
        json.dumps(
            intent_event(
                metadata={"tenant": "@schema", "attempt": "99999999999999999999", "invoice_id": "1"}
            )
        ).encode(),
        json.dumps(
            intent_event(metadata={"tenant": "@schema", "attempt": "1", "invoice_id": "1"})
        ).encode(),
        json.dumps(
            {
                **intent_event(metadata={"tenant": "@schema"}),
                "type": "payment_intent.payment_failed",
            }
        ).encode(),
        json.dumps(
            {
                "id": "evt_r",
                "type": "charge.refunded",
                "data": {"object": {"payment_intent": ["x"]}},
            }
        ).encode(),
        json.dumps(
            {
                "id": "evt_r",
                "type": "charge.refunded",
                "data": {"object": {"payment_intent": "pi_unknown", "refunded": True}},
            }
        ).encode(),
    ],
)
def test_junk_signed_webhooks_answer_4xx_or_are_ignored(vendor_a, stripe_on, payload):
    payload = payload.replace(b"@schema", vendor_a.schema.encode())
    response = deliver(host_client(vendor_a.host), payload)
    assert response.status_code in (200, 400), response.content
    with schema_context(vendor_a.schema):
        assert not Payment.objects.exists()
        events = StripeEvent.objects.count()
    if response.status_code == 200:
        assert response.json()["outcome"].startswith("ignored"), response.json()
        assert events == 1
    else:
        assert response.json()["error"]
        assert events == 0


@pytest.mark.parametrize(
    "setup_intent",
    [None, "", "pi_123", "seti_forged", "seti_../../customers", "seti_" + "x" * 5000],
)
def test_forged_or_missing_setup_intents_get_a_readable_400(vendor_a, stripe_on, setup_intent):
    with schema_context(vendor_a.schema):
        p = billing_partner()
    client = portal_client(vendor_a, p, PartnerRole.OWNER)
    before = audit_actions(vendor_a)
    data = {} if setup_intent is None else {"setup_intent": setup_intent}
    response = client.post(METHOD, data)
    assert response.status_code == 400
    assert 'id="payment-method-error"' in response.content.decode()
    assert audit_actions(vendor_a) == before
    with schema_context(vendor_a.schema):
        assert not PaymentProfile.objects.exclude(payment_method_id="").exists()


def test_a_setup_intent_without_stripe_gets_a_readable_400(vendor_a, stripe_off):
    with schema_context(vendor_a.schema):
        p = billing_partner()
    response = portal_client(vendor_a, p, PartnerRole.OWNER).post(
        METHOD, {"setup_intent": "seti_x"}
    )
    assert response.status_code == 400
    assert "Stripe is not configured" in response.content.decode()
    with schema_context(vendor_a.schema):
        assert not PaymentProfile.objects.exclude(payment_method_id="").exists()
