"""The portal's save-payment-method page in a real headless Chromium, with localstripe's Stripe.js
(STRIPE_JS_URL points at it): the owner types a card into the (fake) card element, Stripe.js
confirms the SetupIntent with localstripe, and the page saves the method."""

from __future__ import annotations

import re

import pytest
from django_tenants.utils import schema_context

from payments.models import PaymentProfile
from tests.browser.conftest import CHROMIUM_ARGS, require_chromium
from tests.committed import committed
from tests.conftest import PASSWORD
from tests.payments.live_vendor import HOST, OWNER

pytestmark = [pytest.mark.browser, pytest.mark.django_db]


def test_the_owner_saves_a_card_through_stripe_js(tenant_live_server, live_vendor, stripe_on):
    executable = require_chromium()
    from playwright.sync_api import expect, sync_playwright

    base = f"http://{HOST}:{tenant_live_server.thread.port}"
    problems: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
            page.on("pageerror", lambda e: problems.append(str(e)))
            page.on(
                "response", lambda r: r.status >= 400 and problems.append(f"{r.status} {r.url}")
            )
            page.goto(f"{base}/accounts/login/")
            page.get_by_label(re.compile(r"^e-?mail", re.I)).fill(OWNER)
            page.locator('input[type="password"]').first.fill(PASSWORD)
            page.locator('form button[type="submit"]').first.click()

            page.goto(f"{base}/portal/payments/")
            expect(page.locator("#method-heading")).to_be_visible()
            page.get_by_role("link", name="Payment method").first.click()
            expect(page.get_by_role("heading", level=1)).to_have_text("Payment method")
            expect(page.locator("#current-method")).to_contain_text("Bank transfer")
            page.get_by_label("Name on the card or account").fill("Olga Owner")
            # localstripe's card element: plain inputs named by their placeholders.
            element = page.locator("#card-element")
            element.locator('input[placeholder="number"]').fill("4242424242424242")
            element.locator('input[placeholder="exp_month"]').fill("12")
            element.locator('input[placeholder="exp_year"]').fill("30")
            element.locator('input[placeholder="cvc"]').fill("123")
            element.locator('input[placeholder="postal_code"]').fill("10115")
            page.get_by_role("button", name="Save payment method").click()
            expect(page.locator("body")).to_contain_text("Saved: Visa ···· 4242")
            expect(page.locator("#current-method")).to_contain_text("Visa ···· 4242")
            expect(page.locator("#current-method")).to_contain_text("expires 12/2030")
        finally:
            browser.close()
    assert problems == []

    def profile() -> tuple:
        with schema_context(live_vendor.schema):
            p = PaymentProfile.objects.get(partner_id=live_vendor.partner_id)
            return (p.method, p.payment_method_kind, p.last4, p.stripe_customer_id[:4])

    assert committed(profile) == ("stripe", "card", "4242", "cus_")
