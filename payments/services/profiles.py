"""A partner's payment set-up: its Stripe customer (created lazily) and the saved method.

Saving a method is two steps around Stripe.js in the browser: `setup_intent_start` makes a
SetupIntent for the partner's customer (the page hands its client secret to Stripe.js, which
collects the card or IBAN and confirms it with Stripe directly — card data never reaches us);
`payment_method_save` then reads the SetupIntent back from Stripe, checks it is this partner's
and succeeded, and stores the method (id, kind, brand, last four) as the partner's default.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction

from core.actors import Actor
from core.services.audit import audit_record, snapshot
from partners.models import Partner

from .. import stripe_api
from ..enums import CollectionMethod, PaymentMethodKind
from ..errors import PaymentError
from ..models import PaymentProfile

__all__ = [
    "SetupStarted",
    "payment_method_remove",
    "payment_method_save",
    "profile_for",
    "setup_intent_start",
    "stripe_customer_ensure",
]

SETUP_KINDS = [PaymentMethodKind.CARD.value, PaymentMethodKind.SEPA_DEBIT.value]


def profile_for(partner: Partner) -> PaymentProfile:
    """The partner's profile (bank transfer until a method is saved); created if missing."""
    profile, _ = PaymentProfile.objects.get_or_create(partner=partner)
    return profile


def stripe_customer_ensure(*, partner: Partner, actor: Actor) -> str:
    """The partner's Stripe customer id, creating the customer the first time."""
    profile = profile_for(partner)
    if profile.stripe_customer_id:
        return profile.stripe_customer_id
    # Created outside our transaction (an HTTP call); a lost race leaves one unused customer
    # at Stripe, never two ids on the partner.
    customer_id = stripe_api.customer_create(
        name=partner.name, email=partner.billing_email, partner_id=partner.pk
    )
    with transaction.atomic():
        profile = PaymentProfile.objects.select_for_update().get(pk=profile.pk)
        if profile.stripe_customer_id:
            return profile.stripe_customer_id
        before = snapshot(profile)
        profile.stripe_customer_id = customer_id
        profile.save(update_fields=["stripe_customer_id", "updated_at"])
        audit_record(
            actor=actor,
            action="payments.stripe_customer_created",
            instance=profile,
            before=before,
            after=snapshot(profile),
        )
    return customer_id


@dataclass(frozen=True)
class SetupStarted:
    setup_intent_id: str
    client_secret: str


def setup_intent_start(*, partner: Partner, actor: Actor) -> SetupStarted:
    customer_id = stripe_customer_ensure(partner=partner, actor=actor)
    intent = stripe_api.setup_intent_create(customer_id=customer_id, kinds=SETUP_KINDS)
    return SetupStarted(setup_intent_id=intent["id"], client_secret=intent["client_secret"])


def payment_method_save(*, partner: Partner, setup_intent_id: str, actor: Actor) -> PaymentProfile:
    """Make the payment method of a succeeded SetupIntent of this partner its default."""
    profile = profile_for(partner)
    if not setup_intent_id or not setup_intent_id.startswith("seti_"):
        raise PaymentError("That is not a setup of a payment method.", field="setup_intent")
    try:
        intent = stripe_api.setup_intent_retrieve(setup_intent_id)
    except stripe_api.StripeError as exc:
        raise PaymentError(
            "Stripe does not know that setup of a payment method.", field="setup_intent"
        ) from exc
    # Another partner's SetupIntent id must not become this partner's method.
    if not profile.stripe_customer_id or intent.get("customer") != profile.stripe_customer_id:
        raise PaymentError("That setup belongs to another customer.", field="setup_intent")
    if intent.get("status") != "succeeded" or not intent.get("payment_method"):
        raise PaymentError("The payment method was not confirmed: try again.", field="setup_intent")
    method_id = intent["payment_method"]
    if not isinstance(method_id, str):
        method_id = method_id["id"]
    try:
        method = stripe_api.payment_method_retrieve(method_id)
    except stripe_api.StripeError as exc:
        raise PaymentError(
            "Stripe could not be reached to read the payment method: try again.",
            field="setup_intent",
        ) from exc
    kind = method.get("type")
    if kind not in PaymentMethodKind.values:
        raise PaymentError("Only cards and SEPA bank debits can be saved.", field="setup_intent")
    details = method.get(kind) or {}
    with transaction.atomic():
        profile = PaymentProfile.objects.select_for_update().get(pk=profile.pk)
        before = snapshot(profile)
        profile.method = CollectionMethod.STRIPE
        profile.payment_method_id = method_id
        profile.payment_method_kind = kind
        profile.brand = str(details.get("brand") or "")[:32]
        profile.last4 = str(details.get("last4") or "")[:4]
        profile.exp_month = details.get("exp_month") if kind == PaymentMethodKind.CARD else None
        profile.exp_year = details.get("exp_year") if kind == PaymentMethodKind.CARD else None
        profile.save()
        audit_record(
            actor=actor,
            action="payments.method_saved",
            instance=profile,
            before=before,
            after=snapshot(profile),
        )
    return profile


def payment_method_remove(*, partner: Partner, actor: Actor) -> PaymentProfile:
    """Back to bank transfer: later invoices wait for a payment finance records."""
    with transaction.atomic():
        profile = PaymentProfile.objects.select_for_update().get(pk=profile_for(partner).pk)
        if profile.method == CollectionMethod.BANK_TRANSFER and not profile.payment_method_id:
            return profile
        before = snapshot(profile)
        profile.method = CollectionMethod.BANK_TRANSFER
        profile.payment_method_id = ""
        profile.payment_method_kind = ""
        profile.brand = ""
        profile.last4 = ""
        profile.exp_month = None
        profile.exp_year = None
        profile.save()
        audit_record(
            actor=actor,
            action="payments.method_removed",
            instance=profile,
            before=before,
            after=snapshot(profile),
        )
    return profile
