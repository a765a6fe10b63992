"""The portal's payment-method page: who may use it, with and without Stripe."""

from __future__ import annotations

import pytest
from django_tenants.utils import schema_context

from accounts.enums import PartnerRole
from payments.models import PaymentProfile
from tests.partners.program_fixtures import audit_actions, portal_client
from tests.payments.support import billing_partner, save_method

pytestmark = pytest.mark.django_db
METHOD = "/portal/payments/method/"


def partner(tv):
    with schema_context(tv.schema):
        return billing_partner()


@pytest.mark.parametrize("role", [PartnerRole.OWNER, PartnerRole.BILLING])
def test_billing_users_get_the_stripe_js_form(vendor_a, stripe_on, role):
    page = portal_client(vendor_a, partner(vendor_a), role).get(METHOD)
    assert page.status_code == 200
    text = page.content.decode()
    assert f'<script src="{stripe_on.url}/js.stripe.com/v3/"></script>' in text
    assert 'data-publishable-key="pk_test_localstripe"' in text
    assert 'data-setup-url="/portal/payments/method/setup/"' in text


@pytest.mark.parametrize("role", [PartnerRole.TECHNICIAN, PartnerRole.VIEWER])
def test_other_roles_may_not_touch_the_method(vendor_a, stripe_on, role):
    p = partner(vendor_a)
    client = portal_client(vendor_a, p, role)
    before = audit_actions(vendor_a)
    for url in (METHOD, f"{METHOD}setup/", f"{METHOD}remove/"):
        assert client.post(url, {"setup_intent": "seti_x"}).status_code == 403
    assert client.get(METHOD).status_code == 403
    assert audit_actions(vendor_a) == before
    with schema_context(vendor_a.schema):
        assert not PaymentProfile.objects.filter(stripe_customer_id__isnull=False).exists()


def test_without_stripe_the_page_says_bank_transfer_and_setup_is_refused(vendor_a, stripe_off):
    client = portal_client(vendor_a, partner(vendor_a), PartnerRole.OWNER)
    text = client.get(METHOD).content.decode()
    assert "Payments by card or bank debit are not available" in text
    assert "js.stripe.com" not in text
    response = client.post(f"{METHOD}setup/")
    assert response.status_code == 409


def test_setup_returns_a_client_secret_and_a_bad_setup_is_refused(vendor_a, stripe_on):
    p = partner(vendor_a)
    client = portal_client(vendor_a, p, PartnerRole.BILLING)
    body = client.post(f"{METHOD}setup/").json()
    assert body["client_secret"].startswith(body["id"] + "_secret_")
    refused = client.post(METHOD, {"setup_intent": body["id"]})  # never confirmed
    assert refused.status_code == 400
    assert "was not confirmed" in refused.content.decode()


def test_removing_the_method_goes_back_to_bank_transfer(vendor_a, stripe_on):
    p = partner(vendor_a)
    with schema_context(vendor_a.schema):
        save_method(p)
    client = portal_client(vendor_a, p, PartnerRole.OWNER)
    assert "Visa ···· 4242" in client.get("/portal/payments/").content.decode()
    response = client.post(f"{METHOD}remove/")
    assert response.status_code == 302
    with schema_context(vendor_a.schema):
        profile = PaymentProfile.objects.get(partner=p)
        assert (profile.method, profile.payment_method_id, profile.last4) == (
            "bank_transfer",
            "",
            "",
        )
    assert audit_actions(vendor_a)[-1] == "payments.method_removed"
