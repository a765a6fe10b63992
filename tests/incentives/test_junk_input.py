"""Junk input on the incentives API and pages: malformed JSON, wrong types, huge or negative
numbers, missing fields — always a problem+json 4xx (API) or a readable error (pages), never a
500, and nothing written."""

from __future__ import annotations

import json

import pytest
from django.test import Client
from django_tenants.utils import schema_context

from accounts.enums import VendorRole
from billing.models_invoicing import PeriodStatus
from incentives.models import (
    CommissionPlan,
    DisputeStatus,
    GrowthBonusRule,
    LedgerEntry,
    StatementDispute,
)
from tests.billing.invoice_fixtures import make_period
from tests.conftest import host_client, make_api_key
from tests.factories import TierFactory
from tests.partners.program_fixtures import console_client, portal_client

from .statement_world import build_world

pytestmark = pytest.mark.django_db

HUGE = "1" + "0" * 40

PLAN_BODIES = [
    "{not json",
    "[]",
    "null",
    {},
    {"name": "X", "basis": "billed"},
    {"name": 5, "basis": "nope", "effective_from": "2026-13"},
    {"name": "X", "basis": "billed", "effective_from": "2027-01", "minimum_payout": HUGE},
    {"name": "X", "basis": "billed", "effective_from": "2027-01", "minimum_payout": "1e15"},
    {"name": "X", "basis": "billed", "effective_from": "2027-01", "minimum_payout": "NaN"},
    {"name": "X", "basis": "billed", "effective_from": "2027-01", "minimum_payout": "-1"},
    {"name": "X", "basis": "billed", "effective_from": "2027-01", "tier_rates": "x"},
    {"name": "X", "basis": "billed", "effective_from": "2027-01", "tier_rates": [{"tier": "a"}]},
    {
        "name": "X",
        "basis": "billed",
        "effective_from": "2027-01",
        "tier_rates": [{"tier": int(HUGE), "rate_pct": "5"}],
    },
    {
        "name": "X",
        "basis": "billed",
        "effective_from": "2027-01",
        "tier_rates": [{"tier": 1, "rate_pct": "-5"}],
    },
    {
        "name": "X",
        "basis": "billed",
        "effective_from": "2027-01",
        "product_rates": [{"product": "nope", "rate_pct": "5"}],
    },
    {
        "name": "X",
        "basis": "billed",
        "effective_from": "2027-01",
        "accelerators": [{"min_mrr": HUGE, "multiplier": "1.5"}],
    },
    {
        "name": "X",
        "basis": "billed",
        "effective_from": "2027-01",
        "accelerators": [{"min_mrr": "1e15", "multiplier": "1.5"}],
    },
    {
        "name": "X",
        "basis": "billed",
        "effective_from": "2027-01",
        "accelerators": [{"min_mrr": "100", "multiplier": HUGE}],
    },
    {
        "name": "X",
        "basis": "billed",
        "effective_from": "2027-01",
        "accelerators": [{"min_mrr": "Infinity", "multiplier": "-1"}],
    },
    {"name": "X", "basis": "billed", "effective_from": "99999-01"},
    {"name": "X" * 500, "basis": "billed", "effective_from": "2027-01"},
]

RULE_BODIES = [
    "{not json",
    {},
    {"name": "X", "effective_from": "2027-01", "currency": "XXXX"},
    {"name": "X", "effective_from": "2027-01", "currency": "EUR", "new_client_bonus": HUGE},
    {"name": "X", "effective_from": "2027-01", "currency": "EUR", "new_client_bonus": "1e15"},
    {"name": "X", "effective_from": "2027-01", "currency": "EUR", "new_client_bonus": "-5"},
    {"name": "X", "effective_from": "2027-01", "currency": "EUR", "new_client_months": HUGE},
    {"name": "X", "effective_from": "2027-01", "currency": 7},
    {
        "name": "X",
        "effective_from": "2027-01",
        "currency": "EUR",
        "bands": [{"min_growth_pct": HUGE, "rate_pct": "5"}],
    },
    {
        "name": "X",
        "effective_from": "2027-01",
        "currency": "EUR",
        "bands": [{"min_growth_pct": "5", "rate_pct": "-5"}],
    },
    {"name": "X", "effective_from": "2027-01", "currency": "EUR", "bands": [{}]},
    {
        "name": "X",
        "effective_from": "2027-01",
        "currency": "EUR",
        "bands": [{"min_growth_pct": "5000", "rate_pct": "5"}],
    },
]


def _post(client: Client, path: str, body) -> object:
    data = body if isinstance(body, str) else json.dumps(body)
    return client.post(path, data, content_type="application/json")


def _assert_problem(response) -> None:
    assert 400 <= response.status_code < 500, (response.status_code, response.content[:500])
    assert response["Content-Type"].startswith("application/problem+json"), response.content


@pytest.fixture
def api(vendor_a):
    with schema_context(vendor_a.schema):
        TierFactory(name="Gold")
        make_period("2026-09", PeriodStatus.FINALIZED)
    return host_client(vendor_a.host, HTTP_AUTHORIZATION=f"Bearer {make_api_key(vendor_a)}")


@pytest.mark.parametrize("body", PLAN_BODIES)
def test_plan_api_junk(vendor_a, api, body):
    _assert_problem(_post(api, "/api/v1/commission-plans/", body))
    with schema_context(vendor_a.schema):
        assert not CommissionPlan.objects.exists()


@pytest.mark.parametrize("body", RULE_BODIES)
def test_growth_rule_api_junk(vendor_a, api, body):
    _assert_problem(_post(api, "/api/v1/growth-bonus-rules/", body))
    with schema_context(vendor_a.schema):
        assert not GrowthBonusRule.objects.exists()


@pytest.mark.parametrize(
    "path", ["/api/v1/commission-plans/abc/", "/api/v1/commission-plans/" + HUGE + "/"]
)
def test_plan_api_bad_ids(api, path):
    _assert_problem(api.get(path))


@pytest.mark.parametrize(
    "body",
    [
        "{not json",
        {},
        {"entry": "abc", "reason": "x"},
        {"entry": int(HUGE), "reason": "x"},
        {"entry": -1, "reason": "x"},
        {"entry": None, "reason": None},
        {"entry": 1, "reason": "x" * 5000},
        {"entry": [1], "reason": ["x"]},
    ],
)
def test_dispute_api_junk(vendor_a, body):
    w = build_world(vendor_a)
    key = make_api_key(vendor_a, "alpha", partner_id=w.alpha.pk)
    client = host_client(vendor_a.host, HTTP_AUTHORIZATION=f"Bearer {key}")
    _assert_problem(_post(client, f"/api/v1/statements/{w.alpha_statement.pk}/disputes/", body))
    with w.schema():
        assert not StatementDispute.objects.exists()


@pytest.mark.parametrize("body", ["{not json", {"anything": 1}, "[]"])
def test_approve_api_junk_body_is_ignored_or_refused(vendor_a, body):
    w = build_world(vendor_a)
    client = host_client(vendor_a.host, HTTP_AUTHORIZATION=f"Bearer {make_api_key(vendor_a)}")
    response = _post(client, f"/api/v1/statements/{w.alpha_statement.pk}/approve/", body)
    assert response.status_code < 500, response.content
    missing = _post(client, f"/api/v1/statements/{HUGE}/approve/", {})
    _assert_problem(missing)


# ---- pages -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"name": "X", "effective_from": "zz", "basis": "nope", "minimum_payout": "abc"},
        {"name": "X", "effective_from": "2027-01", "basis": "billed", "minimum_payout": HUGE},
        {"name": "X", "effective_from": "2027-01", "basis": "billed", "minimum_payout": "1e15"},
        {"name": "X", "effective_from": "2027-01", "basis": "billed", "minimum_payout": "-1"},
        {
            "name": "X",
            "effective_from": "2027-01",
            "basis": "billed",
            "minimum_payout": "0",
            "band_0_min_mrr": HUGE,
            "band_0_multiplier": HUGE,
        },
        {
            "name": "X",
            "effective_from": "2027-01",
            "basis": "billed",
            "minimum_payout": "0",
            "band_0_min_mrr": "1e15",
            "band_0_multiplier": "1.5",
        },
        {
            "name": "X",
            "effective_from": "2027-01",
            "basis": "billed",
            "minimum_payout": "0",
            "band_0_min_mrr": "100",
            "band_0_multiplier": "abc",
        },
    ],
)
def test_plan_form_junk(vendor_a, data):
    with schema_context(vendor_a.schema):
        make_period("2026-09", PeriodStatus.FINALIZED)
    client = console_client(vendor_a, VendorRole.FINANCE)
    response = client.post("/console/incentives/plans/new/", data)
    assert response.status_code == 200
    assert response.context["form"].errors
    with schema_context(vendor_a.schema):
        assert not CommissionPlan.objects.exists()


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"name": "X", "effective_from": "2027-01", "currency": "EUR", "new_client_months": HUGE},
        {
            "name": "X",
            "effective_from": "2027-01",
            "currency": "EUR",
            "new_client_months": "3",
            "new_client_bonus": HUGE,
        },
        {
            "name": "X",
            "effective_from": "2027-01",
            "currency": "EUR",
            "new_client_months": "3",
            "new_client_bonus": "1e15",
        },
        {
            "name": "X",
            "effective_from": "2027-01",
            "currency": "QQ",
            "new_client_months": "3",
            "new_client_bonus": "0",
            "band_0_min_growth_pct": HUGE,
            "band_0_rate_pct": "5",
        },
    ],
)
def test_growth_rule_form_junk(vendor_a, data):
    client = console_client(vendor_a, VendorRole.FINANCE)
    response = client.post("/console/incentives/growth-bonus-rules/new/", data)
    assert response.status_code == 200
    assert response.context["form"].errors
    with schema_context(vendor_a.schema):
        assert not GrowthBonusRule.objects.exists()


@pytest.mark.parametrize("amount", ["abc", "NaN", "Infinity", "-Infinity", HUGE, "1e15", "1.234"])
def test_dispute_resolve_junk_amount(vendor_a, amount):
    w = build_world(vendor_a)
    partner_client = portal_client(vendor_a, w.alpha)
    opened = partner_client.post(
        f"/portal/commissions/{w.alpha_statement.pk}/entries/{w.accrual.pk}/dispute/",
        {"reason": "Rate is wrong"},
    )
    assert opened.status_code == 302
    client = console_client(vendor_a, VendorRole.FINANCE)
    with w.schema():
        dispute = StatementDispute.objects.get()
        entries = LedgerEntry.objects.count()
    response = client.post(
        f"/console/statement-disputes/{dispute.pk}/resolve/",
        {"outcome": "uphold", "corrected_amount": amount},
        follow=True,
    )
    assert response.status_code == 200
    text = [str(m) for m in response.context["messages"]]
    assert any("amount" in m for m in text), text
    with w.schema():
        assert StatementDispute.objects.get().status == DisputeStatus.OPEN
        assert LedgerEntry.objects.count() == entries


@pytest.mark.parametrize("values", [["²"], ["abc"], [HUGE], ["-1"]])
def test_bulk_approve_junk_ids(vendor_a, values):
    w = build_world(vendor_a)
    client = console_client(vendor_a, VendorRole.FINANCE)
    response = client.post("/console/statements/approve/", {"statements": values}, follow=True)
    assert response.status_code == 200
    with w.schema():
        assert w.alpha_statement.__class__.objects.get(pk=w.alpha_statement.pk).status == "draft"


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"method": "nope"},
        {"method": "stripe_transfer", "stripe_account_id": "x" * 5000},
        {"method": "stripe_transfer", "stripe_account_id": "acct_\x00"},
    ],
)
def test_payout_profile_junk(vendor_a, data):
    w = build_world(vendor_a)
    client = portal_client(vendor_a, w.alpha)
    response = client.post("/portal/commissions/payout-method/", data)
    assert response.status_code == 200
    assert response.context["error"]


@pytest.mark.parametrize("reason", ["", "x" * 50000, "\x00"])
def test_portal_dispute_junk_reason(vendor_a, reason):
    w = build_world(vendor_a)
    client = portal_client(vendor_a, w.alpha)
    response = client.post(
        f"/portal/commissions/{w.alpha_statement.pk}/entries/{w.accrual.pk}/dispute/",
        {"reason": reason},
    )
    assert response.status_code in (302, 400)
