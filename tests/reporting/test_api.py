"""/api/v1/margin/ and /api/v1/resale-prices/: the worked example over the API, partner scoping
(a partner key: its own partner only; a vendor key names the partner), problem+json on bad
input, resale prices read, set (201 new row, 200 replaced month) and changed by partner keys
only, another partner's price 404 with nothing changed, constant queries."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from reporting.models import ResalePrice
from tests.billing.invoice_fixtures import make_invoice, run_deferred_checks
from tests.conftest import host_client, make_api_key
from tests.factories import ClientFactory

from .margin_world import EXPECTED, MarginWorld, build_margin_world, line, resale_rows

pytestmark = pytest.mark.django_db

MARGIN = "/api/v1/margin/"
PRICES = "/api/v1/resale-prices/"
PROBLEM = "application/problem+json"


@pytest.fixture(autouse=True)
def _deferred_checks(vendor_a):
    yield
    run_deferred_checks(vendor_a)


@pytest.fixture
def world(vendor_a) -> MarginWorld:
    return build_margin_world(vendor_a)


def api(tv, partner=None):
    secret = make_api_key(tv, partner_id=partner.pk if partner else None)
    return host_client(tv.host, HTTP_AUTHORIZATION=f"Bearer {secret}")


def figures_of(data: dict) -> dict:
    found = {
        row["client_name"]: (
            row["vendor_cost"],
            row["resale_revenue"],
            row["margin"],
            row["margin_pct"],
        )
        for row in data["results"]
    }
    t = data["totals"]
    found["total"] = (t["vendor_cost"], t["resale_revenue"], t["margin"], t["margin_pct"])
    return found


# --- margin ------------------------------------------------------------------------------------


@pytest.mark.parametrize("month", ["2026-09", "2026-10", "2026-11"])
def test_a_partner_key_reads_its_margin_to_the_cent(world, month):
    response = api(world.tv, world.alpha).get(MARGIN, {"month": month})
    assert response.status_code == 200, response.content
    data = response.json()
    assert figures_of(data) == EXPECTED[month]
    assert (data["partner"], data["month"], data["currency"]) == (world.alpha.pk, month, "EUR")
    assert data["status"] == ("draft" if month == "2026-11" else "finalized")
    assert data["next"] is None


def test_the_default_month_and_the_full_answer(world):
    data = api(world.tv, world.alpha).get(MARGIN).json()
    assert data["month"] == "2026-10"
    assert data["results"][0] == {
        "client": world.kiwi.pk,
        "client_name": "Kiwi GmbH",
        "client_external_id": "KIWI-1",
        "vendor_cost": "85.50",
        "resale_revenue": "106.88",
        "margin": "21.38",
        "margin_pct": "20.00",
        "credited": "0.00",
        "unpriced_products": [],
    }
    assert data["unallocated_credits"] == "0.00"
    assert data["other_currency_lines"] == 0
    assert len(data["trend"]) == 12
    assert data["trend"][-2:] == [
        {
            "month": "2026-09",
            "status": "finalized",
            "vendor_cost": "183.01",
            "resale_revenue": "202.51",
            "margin": "19.50",
            "margin_pct": "9.63",
        },
        {
            "month": "2026-10",
            "status": "finalized",
            "vendor_cost": "175.50",
            "resale_revenue": "186.88",
            "margin": "11.38",
            "margin_pct": "6.09",
        },
    ]
    assert data["trend"][0] == {
        "month": "2025-11",
        "status": None,
        "vendor_cost": None,
        "resale_revenue": None,
        "margin": None,
        "margin_pct": None,
    }


def test_november_carries_its_credits(world):
    data = api(world.tv, world.alpha).get(MARGIN, {"month": "2026-11"}).json()
    assert data["unallocated_credits"] == "2.00"
    assert [row["credited"] for row in data["results"]] == ["15.00", "0.00"]


def test_a_vendor_key_names_the_partner(world):
    vendor = api(world.tv)
    data = vendor.get(MARGIN, {"partner": world.alpha.pk, "month": "2026-10"}).json()
    assert figures_of(data) == EXPECTED["2026-10"]
    missing = vendor.get(MARGIN)
    assert missing.status_code == 400 and missing["Content-Type"] == PROBLEM
    assert missing.json()["errors"] == [
        {
            "field": "partner",
            "code": "required",
            "message": "Vendor keys name the partner: ?partner=<id>.",
        }
    ]
    unknown = vendor.get(MARGIN, {"partner": 999999})
    assert unknown.status_code == 400
    assert unknown.json()["errors"][0]["message"] == "There is no partner with id 999999."


def test_a_partner_key_cannot_read_another_partners_margin(world):
    alpha = api(world.tv, world.alpha)
    for partner_id in (world.bravo.pk, 999999):
        response = alpha.get(MARGIN, {"partner": partner_id})
        assert response.status_code == 400
        assert response["Content-Type"] == PROBLEM
        assert response.json()["errors"] == [
            {
                "field": "partner",
                "code": "invalid",
                "message": "A partner key reads its own partner's margin only.",
            }
        ]
        assert "Mango" not in response.content.decode()
    # Naming itself is fine.
    assert alpha.get(MARGIN, {"partner": world.alpha.pk}).status_code == 200
    # Bravo's key sees Bravo's figures only.
    data = api(world.tv, world.bravo).get(MARGIN).json()
    assert [row["client_name"] for row in data["results"]] == ["Mango SA"]
    assert data["totals"]["vendor_cost"] == "1110.00"


@pytest.mark.parametrize(
    ("query", "status", "detail"),
    [
        ({"month": "2026-13"}, 400, None),
        ({"month": "October"}, 400, None),
        ({"month": "2026-01"}, 404, "2026-01 has not been billed to this partner"),
    ],
)
def test_bad_months_answer_problem_json(world, query, status, detail):
    response = api(world.tv, world.alpha).get(MARGIN, query)
    assert response.status_code == status
    assert response["Content-Type"] == PROBLEM
    problem = response.json()
    if status == 400:
        assert problem["errors"] == [
            {
                "field": "month",
                "code": "invalid",
                "message": 'Give the month as YYYY-MM, e.g. "2026-10".',
            }
        ]
    else:
        assert problem["detail"].startswith(detail)


def test_nothing_billed_yet_is_an_empty_answer(vendor_a):
    w = build_margin_world(vendor_a, prices=False, credits=False)
    with w.schema():
        fresh = ClientFactory().partner
    data = api(vendor_a, fresh).get(MARGIN).json()
    assert (data["month"], data["status"], data["results"], data["trend"]) == (None, None, [], [])
    assert data["totals"] == {
        "vendor_cost": "0.00",
        "resale_revenue": "0.00",
        "margin": "0.00",
        "margin_pct": None,
    }


def test_the_margin_costs_the_same_queries_whatever_the_number_of_clients(world):
    alpha = api(world.tv, world.alpha)
    alpha.get(MARGIN)

    def count() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert alpha.get(MARGIN).status_code == 200
        return len(captured)

    few = count()
    with world.schema():
        extra = [ClientFactory(partner=world.alpha, name=f"Extra {n}") for n in range(5)]
        make_invoice(
            partner=world.alpha,
            month="2026-07",
            finalized=True,
            lines=[line(c, world.backup_seats, "10.00") for c in extra],
        )
    assert count() == few


# --- resale prices ------------------------------------------------------------------------------


def test_a_partner_key_lists_its_own_prices(world):
    data = api(world.tv, world.alpha).get(PRICES).json()
    assert [
        (r["product"], r["client"], r["effective_from"], r["kind"]) for r in data["results"]
    ] == [
        ("backup", world.lime.pk, "2026-10", "fixed"),
        ("mail", None, "2026-09", "fixed"),
        ("backup", None, "2026-09", "markup"),
    ]
    lime = data["results"][0]
    assert lime == {
        "id": lime["id"],
        "partner": world.alpha.pk,
        "product": "backup",
        "product_name": "Backup",
        "client": world.lime.pk,
        "effective_from": "2026-10",
        "kind": "fixed",
        "fixed_price": "80.00",
        "markup_pct": None,
        "currency": "EUR",
        "updated_at": lime["updated_at"],
    }
    assert data["results"][2]["markup_pct"] == "25.00"
    # A vendor key reads every partner's, and filters.
    vendor = api(world.tv).get(PRICES, {"partner": world.bravo.pk}).json()
    assert [(r["partner"], r["markup_pct"]) for r in vendor["results"]] == [
        (world.bravo.pk, "99.00")
    ]


def test_a_partner_key_sets_a_price_and_replaces_the_same_month(world):
    alpha = api(world.tv, world.alpha)
    body = {"product": "mail", "effective_from": "2026-11", "kind": "markup", "markup_pct": "15"}
    created = alpha.post(PRICES, body, content_type="application/json")
    assert created.status_code == 201, created.content
    assert (created.json()["kind"], created.json()["markup_pct"]) == ("markup", "15.00")
    replaced = alpha.post(
        PRICES,
        {**body, "kind": "fixed", "fixed_price": "35.00", "markup_pct": None},
        content_type="application/json",
    )
    assert replaced.status_code == 200
    assert replaced.json()["id"] == created.json()["id"]
    assert (replaced.json()["fixed_price"], replaced.json()["markup_pct"]) == ("35.00", None)
    # November's Kiwi Mail is now 35.00.
    nov = alpha.get(MARGIN, {"month": "2026-11"}).json()
    assert nov["results"][0]["resale_revenue"] == "35.00"


def test_an_override_for_a_client_and_ending_it(world):
    alpha = api(world.tv, world.alpha)
    ended = alpha.post(
        PRICES,
        {
            "product": "backup",
            "client": world.lime.pk,
            "effective_from": "2026-11",
            "kind": "inherit",
        },
        content_type="application/json",
    )
    assert ended.status_code == 201, ended.content
    nov = alpha.get(MARGIN, {"month": "2026-11"}).json()
    # Lime's Backup back on the product's markup: 81.00 + 20.25.
    assert nov["results"][1]["resale_revenue"] == "101.25"


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"product": "nope"}, "product", "There is no product with code 'nope'."),
        ({"fixed_price": "1.001"}, "fixed_price", "EUR amounts have at most 2 decimal places."),
        (
            {"kind": "markup"},
            "fixed_price",
            "Only a fixed price has a monthly amount: leave it empty.",
        ),
        (
            {"effective_from": "2026-1"},
            "effective_from",
            'Give the month as YYYY-MM, e.g. "2026-10".',
        ),
        ({"kind": "bogus"}, "kind", '"bogus" is not a valid choice.'),
        ({"colour": "red"}, "colour", "Unknown field, or one that cannot be set here."),
        ({"partner": 999999}, "partner", "A partner key sets its own partner's prices only."),
    ],
)
def test_invalid_bodies_answer_problem_json_and_write_nothing(world, body, field, message):
    before = resale_rows(world.tv)
    payload = {
        "product": "mail",
        "effective_from": "2026-11",
        "kind": "fixed",
        "fixed_price": "5",
        **body,
    }
    response = api(world.tv, world.alpha).post(PRICES, payload, content_type="application/json")
    assert response.status_code == 400, response.content
    assert response["Content-Type"] == PROBLEM
    errors = response.json()["errors"]
    assert {"field": field, "message": message} in [
        {"field": e["field"], "message": e["message"]} for e in errors
    ]
    assert resale_rows(world.tv) == before


def test_another_partners_client_or_price_is_not_reachable(world):
    alpha = api(world.tv, world.alpha)
    before = resale_rows(world.tv)
    response = alpha.post(
        PRICES,
        {
            "product": "backup",
            "client": world.mango.pk,
            "effective_from": "2026-11",
            "kind": "fixed",
            "fixed_price": "1",
        },
        content_type="application/json",
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["message"] == "There is no such client."
    with world.schema():
        bravo_price = ResalePrice.objects.get(partner=world.bravo)
    for method in ("get", "patch"):
        answer = (
            getattr(alpha, method)(
                f"{PRICES}{bravo_price.pk}/", {"markup_pct": "1"}, content_type="application/json"
            )
            if method == "patch"
            else alpha.get(f"{PRICES}{bravo_price.pk}/")
        )
        assert answer.status_code == 404
        assert answer["Content-Type"] == PROBLEM
    assert resale_rows(world.tv) == before


def test_patch_changes_a_rows_price(world):
    alpha = api(world.tv, world.alpha)
    with world.schema():
        mail = ResalePrice.objects.get(partner=world.alpha, product=world.mail)
    url = f"{PRICES}{mail.pk}/"
    changed = alpha.patch(url, {"fixed_price": "32.50"}, content_type="application/json")
    assert changed.status_code == 200, changed.content
    assert changed.json()["fixed_price"] == "32.50"
    before = resale_rows(world.tv)
    for body, field in (
        ({"effective_from": "2026-12"}, "effective_from"),
        ({"client": world.kiwi.pk}, "client"),
        ({}, ""),  # nothing to change: not about one field
        ({"kind": "inherit"}, "kind"),
    ):
        refused = alpha.patch(url, body, content_type="application/json")
        assert refused.status_code == 400, (body, refused.content)
        assert refused.json()["errors"][0]["field"] == field
    assert resale_rows(world.tv) == before


def test_vendor_keys_do_not_set_prices(world):
    vendor = api(world.tv)
    before = resale_rows(world.tv)
    created = vendor.post(
        PRICES,
        {
            "partner": world.alpha.pk,
            "product": "mail",
            "effective_from": "2026-11",
            "kind": "fixed",
            "fixed_price": "1",
        },
        content_type="application/json",
    )
    with world.schema():
        price = ResalePrice.objects.filter(partner=world.alpha).first()
    patched = vendor.patch(
        f"{PRICES}{price.pk}/", {"fixed_price": "1"}, content_type="application/json"
    )
    assert (created.status_code, patched.status_code) == (403, 403)
    assert created.json()["detail"] == (
        "Resale prices are the partner's own: its users and partner keys set them."
    )
    assert resale_rows(world.tv) == before


def test_the_schema_describes_both_resources(world):
    schema = host_client(world.tv.host).get("/api/v1/schema/?format=json")
    paths = schema.json()["paths"]
    assert "/api/v1/margin/" in paths
    assert {"get", "post"} <= set(paths["/api/v1/resale-prices/"])
    assert "patch" in paths["/api/v1/resale-prices/{id}/"]
