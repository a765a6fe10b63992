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
]
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
    assert bad == []
