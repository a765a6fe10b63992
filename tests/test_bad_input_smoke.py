"""Junk in every field of the main API writes, and in every list page's query string, gets a
clear 4xx (or is ignored) — never a 500 or an HTML error page under /api/."""

import json

import pytest
from django_tenants.utils import schema_context

from accounts.models import User
from tests.conftest import host_client, make_api_key
from tests.factories import ClientFactory, MembershipFactory, PartnerFactory

pytestmark = pytest.mark.django_db

JUNK = [None, [], {}, "x", -1, 10**30, "2026-13-45", True, "'; drop", {"a": [1]}]
FIELDS = {
    "partners": [
        "name",
        "external_id",
        "currency",
        "country",
        "billing_email",
        "tax_rate",
        "status",
        "track",
        "billing_address",
        "status_effective_on",
    ],
    "clients": [
        "name",
        "external_id",
        "status",
        "started_on",
        "ended_on",
        "service_tier",
        "partner",
    ],
}
BAD_POSTS = [
    ("/api/v1/meters/", {"code": [], "aggregation": {}}),
    (
        "/api/v1/price-plans/",
        {"code": "x", "currency": "EUR", "charges": [{"seats": "x", "model": []}]},
    ),
    (
        "/api/v1/price-plans/",
        {
            "code": "y",
            "currency": "EUR",
            "charges": [{"meter": "nope", "model": "graduated", "tiers": [{"up_to": "a"}]}],
        },
    ),
    ("/api/v1/subscriptions/", {"client": "x", "price_plan": [], "quantity": "abc"}),
    ("/api/v1/usage-events/", [{"event_id": [], "quantity": {}, "timestamp": 5}]),
    ("/api/v1/credit-notes/", {"invoice": "x", "amount": {}, "lines": "zz", "reason": []}),
    ("/api/v1/credit-notes/", {"invoice": 10**30, "lines": [{"invoice_line": "a"}]}),
    ("/api/v1/billing-periods/2026-13/close/", {}),
    ("/api/v1/billing-periods/0000-01/finalize/", {"x": 1}),
]
BAD_GETS = [
    "/api/v1/clients/?partner=abc",
    "/api/v1/partners/?tier_id=x",
    "/api/v1/subscriptions/?client=zz",
    "/api/v1/clients/?limit=abc",
    "/api/v1/audit-events/?since=bad",
    "/api/v1/invoices/?month=2026-99&status=zz&partner=abc",
    "/api/v1/invoices/99999999999999999999/pdf/",
    "/api/v1/credit-notes/?invoice=abc",
    "/api/v1/billing-periods/9999-99/",
    "/api/v1/payments/?partner=abc&invoice=x&status=zz&kind=zz",
    "/api/v1/payments/99999999999999999999/",
    "/api/v1/statements/?partner=abc&month=2026-99&status=zz",
    "/api/v1/statements/?month=abc",
    "/api/v1/statements/99999999999999999999/pdf/",
    "/api/v1/payouts/?partner=abc&status=zz",
    "/api/v1/commission-plans/abc/",
    "/api/v1/growth-bonus-rules/99999999999999999999/",
    "/api/v1/margin/?partner=abc&month=2026-99",
    "/api/v1/margin/?partner=99999999999999999999",
    "/api/v1/resale-prices/?partner=abc&client=x&product=%00",
    "/api/v1/webhook-endpoints/?active=zz",
    "/api/v1/webhook-endpoints/99999999999999999999/deliveries/?status=zz",
]
# The newer resources: junk in each field of a create, with the key that may create (a vendor key,
# or for resale prices a partner key), must be refused as problem+json, never a 500.
NEW_FIELDS = {
    ("vendor", "payments"): ["invoice", "amount", "received_on", "reference"],
    ("vendor", "commission-plans"): [
        "name",
        "basis",
        "effective_from",
        "minimum_payout",
        "tier_rates",
        "product_rates",
        "accelerators",
    ],
    ("vendor", "growth-bonus-rules"): [
        "name",
        "effective_from",
        "currency",
        "new_client_months",
        "new_client_bonus",
        "bands",
    ],
    ("vendor", "webhook-endpoints"): ["url", "description", "event_types", "active"],
    ("partner", "resale-prices"): [
        "product",
        "client",
        "effective_from",
        "kind",
        "fixed_price",
        "markup_pct",
    ],
}
NEW_BAD_POSTS = [
    ("vendor", "/api/v1/payments/", {"invoice": "x", "amount": "NaN", "received_on": "2026-02-30"}),
    ("vendor", "/api/v1/payments/", {"invoice": 10**30, "amount": "1e999", "received_on": 5}),
    (
        "vendor",
        "/api/v1/commission-plans/",
        {
            "name": "x",
            "basis": "billed",
            "effective_from": "2099-01",
            "tier_rates": [{"tier": "x", "rate_pct": "NaN"}, {"tier": 10**30, "rate_pct": 1}],
            "product_rates": [{"product": [], "rate_pct": "Infinity"}],
            "accelerators": [{"min_mrr": "-1", "multiplier": "0"}, "zz"],
        },
    ),
    (
        "vendor",
        "/api/v1/growth-bonus-rules/",
        {
            "name": "x",
            "effective_from": "0000-00",
            "currency": "€€€",
            "new_client_months": 10**30,
            "new_client_bonus": "sNaN",
            "bands": [{"min_growth_pct": {}, "rate_pct": []}, 5],
        },
    ),
    (
        "vendor",
        "/api/v1/webhook-endpoints/",
        {"url": "javascript:alert(1)", "event_types": ["nope", None], "active": "zz"},
    ),
    ("vendor", "/api/v1/webhook-endpoints/", {"url": "http://[::1", "event_types": "invoice.paid"}),
    ("vendor", "/api/v1/statements/99999999999999999999/approve/", {}),
    ("vendor", "/api/v1/statements/abc/approve/", {"x": 1}),
    ("partner", "/api/v1/statements/99999999999999999999/disputes/", {"entry": "x"}),
    (
        "partner",
        "/api/v1/resale-prices/",
        {"product": "x", "client": 10**30, "effective_from": "2026-13", "kind": "markup"},
    ),
    (
        "partner",
        "/api/v1/resale-prices/",
        {"product": [], "kind": "fixed", "fixed_price": "NaN", "markup_pct": "1e999"},
    ),
]
PARTNER_BAD_GETS = [
    "/api/v1/margin/?month=abc",
    "/api/v1/margin/?month=0000-00&partner=x",
    "/api/v1/resale-prices/?client=abc&product=",
    "/api/v1/statements/?month=2026-99",
    "/api/v1/payments/?invoice=abc",
]
MARGIN_PRICE_JUNK = {
    "scope": "zz",
    "product": "abc",
    "client": "99999999999999999999",
    "kind": "markup",
    "fixed_price": "NaN",
    "markup_pct": "1e999",
    "effective_from": "2026-13",
}
PLAN_JUNK = {
    "name": "x",
    "basis": "zz",
    "effective_from": "0000-00",
    "minimum_payout": "NaN",
    "band_0_min_mrr": "Infinity",
    "band_0_multiplier": "-0",
    "tier_rate_zz": "abc",
}
GROWTH_RULE_JUNK = {
    "name": "x",
    "effective_from": "abc",
    "currency": "€€€",
    "new_client_months": "99999999999999999999",
    "new_client_bonus": "sNaN",
    "band_0_min_growth_pct": "1e999",
    "band_0_rate_pct": "x",
}
JUNK_QUERY = (
    "?page=abc&sort=zzz&created_from=bad&created_to=2026-99-99&status=nope&service_tier=%00"
    "&q=%25%5F&track=x&tier=y&country=ZZ&partner=abc&since=x&until=y&action=&limit=-5"
)
PORTAL_PAGES = [
    "/portal/clients/",
    "/portal/clients/export/",
    "/portal/tier/",
    "/portal/onboarding/",
    "/portal/team/",
    "/portal/invoices/",
    "/portal/usage/",
    "/portal/payments/",
    "/portal/payments/method/",
    "/portal/commissions/",
    "/portal/commissions/payout-method/",
    "/portal/margin/",
    "/portal/margin/export.csv",
    "/portal/margin/prices/",
]
CONSOLE_PAGES = [
    "/console/partners/",
    "/console/clients/",
    "/console/applications/",
    "/console/audit-log/",
    "/console/program/",
    "/console/agreements/",
    "/console/invoices/",
    "/console/usage/",
    "/console/billing/periods/",
    "/console/catalog/",
    "/console/incentives/",
    "/console/incentives/plans/new/",
    "/console/incentives/growth-bonus-rules/new/",
    "/console/statements/",
    "/console/payouts/",
    "/console/webhooks/",
    "/console/webhooks/new/",
]


def test_junk_api_input_never_answers_500(vendor_a):
    with schema_context(vendor_a.schema):
        partner = PartnerFactory()
        client = ClientFactory(partner=partner)
    api = host_client(vendor_a.host, HTTP_AUTHORIZATION=f"Bearer {make_api_key(vendor_a)}")
    bad = []
    for resource, pk in (("partners", partner.pk), ("clients", client.pk)):
        for field in FIELDS[resource]:
            for value in JUNK:
                body = json.dumps({field: value})
                for method, url in (
                    ("patch", f"/api/v1/{resource}/{pk}/"),
                    ("post", f"/api/v1/{resource}/"),
                ):
                    response = getattr(api, method)(url, body, content_type="application/json")
                    # Some junk is valid for some fields ("x" is a fine name): only the way a
                    # refusal looks is checked.
                    if response.status_code >= 500:
                        bad.append((method, url, field, value, response.status_code))
                    elif (
                        response.status_code >= 400
                        and response["Content-Type"] != "application/problem+json"
                    ):
                        bad.append((method, url, field, value, response["Content-Type"]))
    for url, body in BAD_POSTS:
        response = api.post(url, json.dumps(body), content_type="application/json")
        if not 400 <= response.status_code < 500:
            bad.append((url, response.status_code))
    for url in BAD_GETS:
        response = api.get(url)
        if response.status_code >= 500:
            bad.append((url, response.status_code))
    partner_api = host_client(
        vendor_a.host, HTTP_AUTHORIZATION=f"Bearer {make_api_key(vendor_a, partner_id=partner.pk)}"
    )
    keys = {"vendor": api, "partner": partner_api}
    for (key, resource), fields in NEW_FIELDS.items():
        for field in fields:
            for value in JUNK:
                response = keys[key].post(
                    f"/api/v1/{resource}/",
                    json.dumps({field: value}),
                    content_type="application/json",
                )
                if not 400 <= response.status_code < 500:
                    bad.append((key, resource, field, value, response.status_code))
                elif response["Content-Type"] != "application/problem+json":
                    bad.append((key, resource, field, value, response["Content-Type"]))
    for key, url, body in NEW_BAD_POSTS:
        response = keys[key].post(url, json.dumps(body), content_type="application/json")
        if not 400 <= response.status_code < 500:
            bad.append((key, url, response.status_code))
    for url in PARTNER_BAD_GETS:
        response = partner_api.get(url)
        if response.status_code >= 500:
            bad.append(("partner", url, response.status_code))
    assert bad == []


def test_junk_page_input_never_answers_500(vendor_a):
    with schema_context(vendor_a.schema):
        membership = MembershipFactory()
        ClientFactory(partner=membership.partner)
        admin = User.objects.get(email=vendor_a.admin_email)
    portal, console = host_client(vendor_a.host), host_client(vendor_a.host)
    with schema_context(vendor_a.schema):
        portal.force_login(membership.user)
        console.force_login(admin)
    bad = []
    for browser, pages in ((portal, PORTAL_PAGES), (console, CONSOLE_PAGES)):
        for page in pages:
            for headers in ({}, {"HTTP_HX_REQUEST": "true"}):
                response = browser.get(page + JUNK_QUERY, **headers)
                if response.status_code >= 500:
                    bad.append((page, headers, response.status_code))
    for page, data in [
        ("/portal/clients/new/", {"name": "x", "started_on": "bad", "status": "zz"}),
        ("/portal/billing-profile/", {"billing_email": "x", "country": "ZZZ"}),
        ("/apply/", {"company_name": "x"}),
    ]:
        response = portal.post(page, data)
        if response.status_code >= 500:
            bad.append((page, response.status_code))
    for browser, page, data in [
        (portal, "/portal/margin/prices/set/", MARGIN_PRICE_JUNK),
        (portal, "/portal/margin/prices/set/", {}),
        (portal, "/portal/commissions/payout-method/", {"method": "zz", "stripe_account_id": "x"}),
        (portal, "/portal/commissions/payout-method/", {"method": "stripe_transfer"}),
        (portal, "/portal/payments/method/", {"setup_intent": "seti_nope"}),
        (portal, "/portal/payments/method/setup/", {"x": "1"}),
        (portal, "/portal/payments/method/remove/", {}),
        (console, "/console/incentives/plans/new/", PLAN_JUNK),
        (console, "/console/incentives/growth-bonus-rules/new/", GROWTH_RULE_JUNK),
        (console, "/console/statements/approve/", {"statements": ["abc", "9" * 25]}),
        (console, "/console/statements/approve/", {"statements": ["²"]}),
        (console, "/console/payouts/99999999/record/", {"reference": "x"}),
        (console, "/console/webhooks/new/", {"url": "http://[::1", "event_types": ["zz"]}),
        (console, "/console/webhooks/new/", {"url": "ftp://x", "description": "x" * 5000}),
    ]:
        response = browser.post(page, data)
        if response.status_code >= 500:
            bad.append((page, data, response.status_code))
    assert bad == []
