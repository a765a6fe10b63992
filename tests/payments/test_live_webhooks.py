"""localstripe delivers its own signed webhooks to our endpoint on a live server: the charges
whose workers died after Stripe accepted them are settled by the webhooks alone."""

from __future__ import annotations

import json
import time
import urllib.request

import pytest
from django_tenants.utils import schema_context

from billing.models import Invoice
from partners.models import Partner
from payments import tasks
from payments.models import Payment, StripeEvent
from payments.services import charges
from payments.services.charges import payment_charge
from tests.committed import committed
from tests.factories import PartnerFactory
from tests.payments.conftest import WEBHOOK_SECRET
from tests.payments.live_vendor import WEBHOOK_HOST
from tests.payments.support import (
    DECLINED_CHARGE_CARD,
    draft_invoice,
    finalize,
    save_method,
)

pytestmark = pytest.mark.django_db


def configure_webhook(localstripe, url: str, events: list[str]) -> None:
    body = json.dumps({"url": url, "secret": WEBHOOK_SECRET, "events": events}).encode()
    request = urllib.request.Request(
        f"{localstripe.url}/_config/webhooks/payments-tests", data=body, method="POST"
    )
    with urllib.request.urlopen(request) as response:
        assert response.status == 200


def test_localstripe_webhooks_settle_charges_the_worker_never_recorded(
    tenant_live_server,
    live_vendor,
    stripe_on,
    monkeypatch,
):
    monkeypatch.setattr(tasks.charge_payment, "delay", lambda *a, **k: None)  # no broker here
    monkeypatch.setattr(tasks.email_payment_failed, "delay", lambda *a, **k: None)
    port = tenant_live_server.thread.port
    configure_webhook(
        stripe_on,
        f"http://{WEBHOOK_HOST}:{port}/stripe/webhook/",
        ["payment_intent.succeeded", "payment_intent.payment_failed"],
    )

    def setup() -> tuple[int, int]:
        with schema_context(live_vendor.schema):
            good = Partner.objects.get(pk=live_vendor.partner_id)
            bad = PartnerFactory(name="Declining MSP")
            save_method(good)
            save_method(bad, card=DECLINED_CHARGE_CARD)
            paid, failed = draft_invoice(good, "10.00"), draft_invoice(bad, "20.00")
            finalize()
            return (
                Payment.objects.get(invoice=paid).pk,
                Payment.objects.get(invoice=failed).pk,
            )

    def charge_and_die(payment_id: int) -> None:
        with schema_context(live_vendor.schema), pytest.raises(SystemExit):
            payment_charge(payment_id=payment_id)

    def die(*args, **kwargs):
        raise SystemExit("worker killed after Stripe accepted")

    def outcome() -> list[tuple]:
        with schema_context(live_vendor.schema):
            return [
                (p.status, Invoice.objects.get(pk=p.invoice_id).status)
                for p in Payment.objects.order_by("pk")
            ]

    try:
        good_id, bad_id = committed(setup)
        monkeypatch.setattr(charges, "record_outcome", die)
        committed(charge_and_die, good_id)
        committed(charge_and_die, bad_id)
        monkeypatch.setattr(charges, "record_outcome", charges.payment_settle)
        assert committed(outcome) == [("pending", "open"), ("pending", "open")]
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and committed(outcome) != [
            ("succeeded", "paid"),
            ("failed", "payment_failed"),
        ]:
            time.sleep(0.2)
        assert committed(outcome) == [("succeeded", "paid"), ("failed", "payment_failed")]

        def events() -> list[str]:
            # localstripe's webhooks are server-wide: events of other tests' objects may reach
            # this endpoint too (answered "ignored"); these two payments' events are the point.
            ours = (f"payment {good_id} ", f"payment {bad_id} ")
            with schema_context(live_vendor.schema):
                return sorted(
                    event.type
                    for event in StripeEvent.objects.all()
                    if any(marker in event.outcome for marker in ours)
                )

        assert committed(events) == ["payment_intent.payment_failed", "payment_intent.succeeded"]
    finally:
        configure_webhook(stripe_on, "http://127.0.0.1:9/", ["none.disabled"])
