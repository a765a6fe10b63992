"""Helpers of the payments tests: what Stripe.js would do in the browser, partners with saved
methods, finalized invoices, and a look into localstripe. Call them inside the vendor's schema."""

from __future__ import annotations

import datetime
import hashlib
import hmac
import json
import time
import urllib.request
from decimal import Decimal
from typing import Any

import stripe
from django.conf import settings
from django.db import connection

from accounts.enums import PartnerRole
from billing.models import BillingPeriod, Invoice
from billing.models_invoicing import PeriodStatus
from billing.services.periods import period_finalize
from core.actors import Actor
from partners.models import Partner
from payments.services.profiles import payment_method_save, setup_intent_start
from tests.billing.invoice_fixtures import make_invoice
from tests.factories import ClientFactory, MembershipFactory, PartnerFactory, UserFactory

ACTOR = Actor.system("payments tests")
GOOD_CARD = "4242424242424242"
# localstripe: saves fine, every charge declined (like Stripe's "charge customer fail" card).
DECLINED_CHARGE_CARD = "4000000000000341"
# localstripe: refused when attached / confirmed in a SetupIntent.
DECLINED_SETUP_CARD = "4000000000000002"
GOOD_IBAN = "DE89370400440532013000"
DECLINED_IBAN = "DE62370400440532013001"  # localstripe: debits fail (after 0.5 s)


def stripe_js_confirm(
    setup: dict[str, str], *, card: str | None = None, iban: str | None = None
) -> dict[str, Any]:
    """What localstripe's Stripe.js does for confirmCardSetup / confirmSepaDebitSetup: POST the
    card or IBAN with the publishable key and the client secret."""
    secret = setup["client_secret"]
    setup_id = secret.split("_secret_")[0]
    if iban is not None:
        method = {"type": "sepa_debit", "sepa_debit": {"iban": iban}}
    else:
        method = {
            "type": "card",
            "card": {"number": card or GOOD_CARD, "exp_month": 12, "exp_year": 2030, "cvc": "123"},
        }
    body = json.dumps(
        {
            "key": settings.STRIPE_PUBLISHABLE_KEY,
            "use_stripe_sdk": True,
            "client_secret": secret,
            "payment_method_data": method,
        }
    ).encode()
    request = urllib.request.Request(
        f"{settings.STRIPE_API_BASE}/v1/setup_intents/{setup_id}/confirm",
        data=body,
        method="POST",
    )
    try:
        with urllib.request.urlopen(request) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return json.loads(exc.read())


def save_method(partner: Partner, *, card: str | None = None, iban: str | None = None) -> None:
    started = setup_intent_start(partner=partner, actor=ACTOR)
    stripe_js_confirm({"client_secret": started.client_secret}, card=card, iban=iban)
    payment_method_save(partner=partner, setup_intent_id=started.setup_intent_id, actor=ACTOR)


def billing_partner(name: str = "Kestrel IT", **kwargs: Any) -> Partner:
    """A partner with an owner, a billing user and a viewer (only the first two get payment
    emails)."""
    partner = PartnerFactory(name=name, **kwargs)
    for role in (PartnerRole.OWNER, PartnerRole.BILLING, PartnerRole.VIEWER):
        MembershipFactory(
            partner=partner,
            role=role,
            user=UserFactory(vendor_role="", email=f"{role}@{name.split()[0].lower()}.example"),
        )
    return partner


def draft_invoice(partner: Partner, amount: str, month: str = "2026-10") -> Invoice:
    """A draft invoice (one line of `amount` before tax) in a period in review."""
    client = ClientFactory(partner=partner)
    invoice = make_invoice(
        partner=partner,
        month=month,
        lines=[{"client": client, "amount": Decimal(amount)}],
        period_status=PeriodStatus.REVIEW,
    )
    BillingPeriod.objects.filter(pk=invoice.period_id, run_started_at=None).update(
        run_started_at=datetime.datetime(2026, 11, 1, tzinfo=datetime.UTC),
        rated_at=datetime.datetime(2026, 11, 1, tzinfo=datetime.UTC),
    )
    return invoice


def finalize(month: str = "2026-10") -> BillingPeriod:
    first = datetime.date(int(month[:4]), int(month[5:7]), 1)
    return period_finalize(
        month=first, actor=ACTOR, now=datetime.datetime(2026, 11, 2, 9, tzinfo=datetime.UTC)
    )


def client() -> stripe.StripeClient:
    return stripe.StripeClient(
        settings.STRIPE_SECRET_KEY, base_addresses={"api": settings.STRIPE_API_BASE}
    )


def intents_of_attempt(attempt_id: int) -> list[dict[str, Any]]:
    """Every PaymentIntent localstripe holds for one of our attempts: its metadata names the
    attempt and this schema, and it belongs to the partner's customer (localstripe lives for the
    whole session, and a schema dropped and made again reuses attempt ids)."""
    from payments.models import Payment, PaymentProfile

    payment = Payment.objects.get(pk=attempt_id)
    customer = PaymentProfile.objects.get(partner_id=payment.partner_id).stripe_customer_id
    tenant = connection.schema_name
    found = []
    for intent in client().v1.payment_intents.list(params={"limit": 100}).auto_paging_iter():
        data = intent.to_dict()
        metadata = data["metadata"]
        if (
            metadata.get("attempt") == str(attempt_id)
            and metadata.get("tenant") == tenant
            and data["customer"] == customer
        ):
            found.append(data)
    return found


def sign(payload: bytes, *, secret: str | None = None, timestamp: int | None = None) -> str:
    """A Stripe-Signature header, as Stripe (and localstripe) compute it."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    secret = settings.STRIPE_WEBHOOK_SECRET if secret is None else secret
    digest = hmac.new(
        secret.encode(), f"{timestamp}.".encode() + payload, hashlib.sha256
    ).hexdigest()
    return f"t={timestamp},v1={digest}"
