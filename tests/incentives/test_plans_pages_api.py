"""Commission plan and growth bonus rule pages (roles) and API (vendor keys only)."""

from __future__ import annotations

import datetime
import json
from decimal import Decimal

import pytest
from django_tenants.utils import schema_context

from accounts.enums import VendorRole
from billing.models import Product
from billing.models_invoicing import PeriodStatus
from core.models import AuditEntry
from incentives.models import CommissionPlan, GrowthBonusRule
from tests.billing.invoice_fixtures import make_period
from tests.conftest import host_client, make_api_key
from tests.factories import PartnerFactory, TierFactory
from tests.partners.program_fixtures import console_client, portal_client

D = Decimal
pytestmark = pytest.mark.django_db


@pytest.fixture
def catalog(vendor_a):
    with schema_context(vendor_a.schema):
        gold = TierFactory(name="Gold", commission_rate_pct=D("8.50"))
        backup = Product.objects.create(code="backup", name="Backup")
        make_period("2026-09", PeriodStatus.FINALIZED)
        return {"gold": gold, "backup": backup}


PLAN_FORM = {
    "name": "2027 plan",
    "effective_from": "2027-01",
    "basis": "billed",
    "minimum_payout": "50.00",
    "band_0_min_mrr": "10000",
    "band_0_multiplier": "1.25",
}


def test_finance_creates_a_plan_prefilled_from_tier_benefits(vendor_a, catalog):
    client = console_client(vendor_a, VendorRole.FINANCE)
    page = client.get("/console/incentives/plans/new/")
    assert page.status_code == 200
    gold = catalog["gold"]
    assert f'name="tier_{gold.pk}"' in page.content.decode()
    assert page.context["form"][f"tier_{gold.pk}"].value() == D("8.50")
    data = {
        **PLAN_FORM,
        f"tier_{gold.pk}": "9.5",
        f"product_{catalog['backup'].pk}": "20",
    }
    response = client.post("/console/incentives/plans/new/", data)
    assert response.status_code == 302
    with schema_context(vendor_a.schema):
        plan = CommissionPlan.objects.get()
        assert (plan.name, plan.effective_from, plan.minimum_payout) == (
            "2027 plan",
            datetime.date(2027, 1, 1),
            D("50.00"),
        )
        assert list(plan.tier_rates.values_list("tier_id", "rate_pct")) == [(gold.pk, D("9.5"))]
        assert list(plan.product_rates.values_list("rate_pct", flat=True)) == [D("20")]
        assert list(plan.accelerators.values_list("min_mrr", "multiplier")) == [
            (D("10000"), D("1.25"))
        ]
        assert AuditEntry.objects.filter(action="commission_plan.created").count() == 1
    detail = client.get(response["Location"])
    assert detail.status_code == 200
    assert "9.5 %" in detail.content.decode()


def test_a_plan_cannot_start_in_a_finalized_month(vendor_a, catalog):
    client = console_client(vendor_a, VendorRole.FINANCE)
    gold = catalog["gold"]
    response = client.post(
        "/console/incentives/plans/new/",
        {**PLAN_FORM, "effective_from": "2026-09", f"tier_{gold.pk}": "9"},
    )
    assert response.status_code == 200
    assert "can start in 2026-10 at the earliest" in response.content.decode()
    with schema_context(vendor_a.schema):
        assert not CommissionPlan.objects.exists()


@pytest.mark.parametrize("role", [VendorRole.CHANNEL_MANAGER, VendorRole.ANALYST])
def test_readers_see_plans_but_cannot_create(vendor_a, catalog, role):
    client = console_client(vendor_a, role)
    home = client.get("/console/incentives/")
    assert home.status_code == 200
    assert "New commission plan" not in home.content.decode()
    response = client.post("/console/incentives/plans/new/", {**PLAN_FORM})
    assert response.status_code == 403
    with schema_context(vendor_a.schema):
        assert not CommissionPlan.objects.exists()


@pytest.mark.parametrize("role", [VendorRole.SUPPORT, VendorRole.ENABLEMENT])
def test_other_roles_get_403(vendor_a, catalog, role):
    assert console_client(vendor_a, role).get("/console/incentives/").status_code == 403


def test_partner_users_get_403(vendor_a, catalog):
    with schema_context(vendor_a.schema):
        partner = PartnerFactory()
    client = portal_client(vendor_a, partner)
    assert client.get("/console/incentives/").status_code == 403
    assert client.post("/console/incentives/plans/new/", PLAN_FORM).status_code == 403
    with schema_context(vendor_a.schema):
        assert not CommissionPlan.objects.exists()


def test_plan_in_force_is_highlighted(vendor_a, catalog):
    client = console_client(vendor_a, VendorRole.ADMIN)
    gold = catalog["gold"]
    for month in ("2026-10", "2099-01"):
        assert (
            client.post(
                "/console/incentives/plans/new/",
                {
                    **PLAN_FORM,
                    "name": f"Plan {month}",
                    "effective_from": month,
                    f"tier_{gold.pk}": "5",
                },
            ).status_code
            == 302
        )
    page = client.get("/console/incentives/")
    rows = page.context["rows"]
    assert [(r["item"].name, r["status"]) for r in rows] == [
        ("Plan 2099-01", "upcoming"),
        ("Plan 2026-10", "in_force"),
    ]
    assert page.content.decode().count('aria-current="true"') == 1


def test_growth_rule_page(vendor_a, catalog):
    client = console_client(vendor_a, VendorRole.FINANCE)
    response = client.post(
        "/console/incentives/growth-bonus-rules/new/",
        {
            "name": "Growth 2027",
            "effective_from": "2027-01",
            "currency": "eur",
            "new_client_months": "3",
            "new_client_bonus": "50.00",
            "band_0_min_growth_pct": "5",
            "band_0_rate_pct": "2",
            "band_1_min_growth_pct": "20",
        },
    )
    assert response.status_code == 200  # band 1 lacks its rate
    assert "Give both the growth and the rate" in response.content.decode()
    response = client.post(
        "/console/incentives/growth-bonus-rules/new/",
        {
            "name": "Growth 2027",
            "effective_from": "2027-01",
            "currency": "eur",
            "new_client_months": "3",
            "new_client_bonus": "50.00",
            "band_0_min_growth_pct": "5",
            "band_0_rate_pct": "2",
        },
    )
    assert response.status_code == 302
    with schema_context(vendor_a.schema):
        rule = GrowthBonusRule.objects.get()
        assert (rule.currency, rule.new_client_bonus) == ("EUR", D("50.00"))
        assert list(rule.bands.values_list("min_growth_pct", "rate_pct")) == [(D("5"), D("2"))]
    assert client.get(response["Location"]).status_code == 200
    assert client.get("/console/incentives/").context["rule_rows"][0]["item"] == rule


# ---- API -------------------------------------------------------------------------------------


def _post(client, path, body):
    return client.post(path, json.dumps(body), content_type="application/json")


def test_api_create_and_list_plans(vendor_a, catalog, api_a):
    body = {
        "name": "API plan",
        "basis": "collected",
        "effective_from": "2026-10",
        "minimum_payout": "25.00",
        "tier_rates": [{"tier": catalog["gold"].pk, "rate_pct": "11"}],
        "product_rates": [{"product": "backup", "rate_pct": "20"}],
        "accelerators": [{"min_mrr": "5000", "multiplier": "1.1"}],
    }
    response = _post(api_a, "/api/v1/commission-plans/", body)
    assert response.status_code == 201, response.content
    created = response.json()
    assert created["effective_from"] == "2026-10"
    assert created["tier_rates"] == [{"tier": catalog["gold"].pk, "rate_pct": "11.0000"}]
    assert created["product_rates"] == [{"product": "backup", "rate_pct": "20.0000"}]
    assert created["accelerators"] == [{"min_mrr": "5000.00", "multiplier": "1.100"}]
    assert created["in_force"] is True
    listed = api_a.get("/api/v1/commission-plans/").json()
    assert [p["name"] for p in listed["results"]] == ["API plan"]
    assert api_a.get(f"/api/v1/commission-plans/{created['id']}/").status_code == 200


def test_api_validation_is_problem_json(vendor_a, catalog, api_a):
    response = _post(
        api_a,
        "/api/v1/commission-plans/",
        {
            "name": "Bad",
            "basis": "billed",
            "effective_from": "2026-11",
            "tier_rates": [{"tier": catalog["gold"].pk, "rate_pct": "101"}],
        },
    )
    assert response.status_code == 400
    assert response["Content-Type"].startswith("application/problem+json")
    assert response.json()["errors"][0]["field"] == "tier_rates[0].rate_pct"
    response = _post(
        api_a,
        "/api/v1/commission-plans/",
        {"name": "Old", "basis": "billed", "effective_from": "2026-09"},
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "effective_from"
    with schema_context(vendor_a.schema):
        assert not CommissionPlan.objects.exists()


def test_api_growth_bonus_rules(vendor_a, catalog, api_a):
    response = _post(
        api_a,
        "/api/v1/growth-bonus-rules/",
        {
            "name": "Growth",
            "effective_from": "2026-10",
            "currency": "EUR",
            "new_client_months": 2,
            "new_client_bonus": "40.00",
            "bands": [{"min_growth_pct": "10", "rate_pct": "3"}],
        },
    )
    assert response.status_code == 201, response.content
    assert response.json()["bands"] == [{"min_growth_pct": "10.0000", "rate_pct": "3.0000"}]
    bad = _post(
        api_a,
        "/api/v1/growth-bonus-rules/",
        {"name": "X", "effective_from": "2026-12", "currency": "EUR", "new_client_bonus": "1.234"},
    )
    assert bad.status_code == 400
    assert bad.json()["errors"][0]["field"] == "new_client_bonus"
    assert len(api_a.get("/api/v1/growth-bonus-rules/").json()["results"]) == 1


def test_partner_keys_cannot_see_or_create_plans(vendor_a, catalog, api_a):
    _post(
        api_a,
        "/api/v1/commission-plans/",
        {"name": "P", "basis": "billed", "effective_from": "2026-10"},
    )
    with schema_context(vendor_a.schema):
        partner = PartnerFactory()
        plan = CommissionPlan.objects.get()
    key = make_api_key(vendor_a, partner_id=partner.pk)
    client = host_client(vendor_a.host, HTTP_AUTHORIZATION=f"Bearer {key}")
    for path in ("/api/v1/commission-plans/", "/api/v1/growth-bonus-rules/"):
        response = client.get(path)
        assert (response.status_code, response.json()["results"]) == (200, [])
    response = client.get(f"/api/v1/commission-plans/{plan.pk}/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/problem+json")
    body = {"name": "Mine", "basis": "billed", "effective_from": "2026-11"}
    assert _post(client, "/api/v1/commission-plans/", body).status_code == 403
    with schema_context(vendor_a.schema):
        assert CommissionPlan.objects.count() == 1


def test_vendor_b_key_is_401_on_vendor_a(vendor_a, vendor_b, catalog):
    key = make_api_key(vendor_b)
    client = host_client(vendor_a.host, HTTP_AUTHORIZATION=f"Bearer {key}")
    assert client.get("/api/v1/commission-plans/").status_code == 401
