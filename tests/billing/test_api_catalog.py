"""/api/v1/meters/ and price-plans/: exact JSON, field paths of validation errors, partner keys
(read yes, write 403 with nothing changed), constant query counts, and the OpenAPI schema."""

from __future__ import annotations

import datetime
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_tenants.utils import schema_context, tenant_context

from billing.models import Charge, ChargeTier, Meter, PricePlan, PricePlanVersion
from billing.services.catalog import meter_create, price_plan_create
from core.actors import Actor
from core.api.problems import PROBLEM_CONTENT_TYPE
from core.models import AuditEntry
from tests.conftest import host_client, make_api_key
from tests.factories import PartnerFactory

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime.datetime(2026, 3, 15, 14, 0, tzinfo=datetime.UTC)  # 15:00 in Berlin
ACTOR = Actor.system("catalog api tests")


@pytest.fixture
def world(vendor_a, monkeypatch):
    monkeypatch.setattr(timezone, "now", lambda: NOW)
    with schema_context(vendor_a.schema):
        partner = PartnerFactory(name="Alpha IT")
    vendor_key = make_api_key(vendor_a, name="vendor integration")
    partner_key = make_api_key(vendor_a, name="alpha rmm", partner_id=partner.pk)
    return {
        "tv": vendor_a,
        "vendor": host_client(vendor_a.host, HTTP_AUTHORIZATION=f"Bearer {vendor_key}"),
        "partner": host_client(vendor_a.host, HTTP_AUTHORIZATION=f"Bearer {partner_key}"),
    }


def post(client, url, data, **extra):
    return client.post(url, data, content_type="application/json", **extra)


def errors_of(response, status: int = 400) -> list[dict]:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == PROBLEM_CONTENT_TYPE
    return response.json()["errors"]


def catalog_state(tv) -> dict:
    with schema_context(tv.schema):
        return {
            "meters": list(Meter.objects.order_by("pk").values()),
            "plans": list(PricePlan.objects.order_by("pk").values()),
            "versions": list(PricePlanVersion.objects.order_by("pk").values()),
            "charges": list(Charge.objects.order_by("pk").values()),
            "tiers": list(ChargeTier.objects.order_by("pk").values()),
            "audit": AuditEntry.objects.count(),
        }


def without_created_at(body: dict) -> dict:
    assert body.pop("created_at")
    return body


METER = {
    "code": "devices",
    "name": "Managed devices",
    "unit": "device",
    "aggregation": "unique_count",
    "unique_property": "device_id",
}

PLAN = {
    "code": "msp-standard",
    "name": "MSP Standard",
    "currency": "eur",
    "effective_from": "2026-03",
    "charges": [
        {"seats": True, "model": "per_unit", "unit_price": "3.5", "counting_rule": "average"},
        {
            "meter": "devices",
            "model": "graduated",
            "pooled": True,
            "tiers": [
                {"up_to": 100, "unit_price": "1.00", "flat_fee": "10"},
                {"up_to": None, "unit_price": "0.0125"},
            ],
        },
        {"meter": "devices", "model": "package", "package_size": 25, "package_price": "20"},
        {"seats": True, "model": "flat", "flat_fee": "49.90", "counting_rule": "snapshot"},
    ],
}

PLAN_CHARGES_OUT = [
    {
        "meter": None,
        "seats": True,
        "model": "per_unit",
        "unit_price": "3.50",
        "tiers": [],
        "package_size": None,
        "package_price": None,
        "flat_fee": None,
        "pooled": False,
        "counting_rule": "average",
    },
    {
        "meter": "devices",
        "seats": False,
        "model": "graduated",
        "unit_price": None,
        "tiers": [
            {"up_to": 100, "unit_price": "1.00", "flat_fee": "10.00"},
            {"up_to": None, "unit_price": "0.0125", "flat_fee": "0.00"},
        ],
        "package_size": None,
        "package_price": None,
        "flat_fee": None,
        "pooled": True,
        "counting_rule": None,
    },
    {
        "meter": "devices",
        "seats": False,
        "model": "package",
        "unit_price": None,
        "tiers": [],
        "package_size": 25,
        "package_price": "20.00",
        "flat_fee": None,
        "pooled": False,
        "counting_rule": None,
    },
    {
        "meter": None,
        "seats": True,
        "model": "flat",
        "unit_price": None,
        "tiers": [],
        "package_size": None,
        "package_price": None,
        "flat_fee": "49.90",
        "pooled": False,
        "counting_rule": "snapshot",
    },
]


# --- meters ----------------------------------------------------------------------------------


def test_meters_create_list_and_get_by_code(world):
    api = world["vendor"]
    created = post(api, "/api/v1/meters/", METER)
    assert created.status_code == 201, created.content
    assert without_created_at(created.json()) == METER
    second = post(
        api,
        "/api/v1/meters/",
        {"code": "api.calls", "name": "API calls", "unit": "call", "aggregation": "count"},
    )
    assert second.status_code == 201
    assert without_created_at(second.json())["unique_property"] is None

    listed = api.get("/api/v1/meters/")
    assert listed.status_code == 200
    body = listed.json()
    assert body["next"] is None
    assert [without_created_at(row) for row in body["results"]] == [
        {
            "code": "api.calls",
            "name": "API calls",
            "unit": "call",
            "aggregation": "count",
            "unique_property": None,
        },
        METER,
    ]
    detail = api.get("/api/v1/meters/api.calls/")
    assert detail.status_code == 200
    assert detail.json()["name"] == "API calls"
    missing = api.get("/api/v1/meters/nope/")
    assert missing.status_code == 404
    assert missing["Content-Type"] == PROBLEM_CONTENT_TYPE
    with schema_context(world["tv"].schema):
        assert AuditEntry.objects.filter(action="meter.created").count() == 2


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        (
            {**METER, "unique_property": ""},
            [
                {
                    "field": "unique_property",
                    "code": "invalid",
                    "message": "A unique_count meter counts distinct values of one event "
                    "property: name it.",
                }
            ],
        ),
        (
            {**METER, "aggregation": "avg"},
            [
                {
                    "field": "aggregation",
                    "code": "invalid_choice",
                    "message": '"avg" is not a valid choice.',
                }
            ],
        ),
        (
            {**METER, "created_at": "2026-01-01", "colour": "red"},
            [
                {
                    "field": "colour",
                    "code": "unknown_field",
                    "message": "Unknown field, or one that cannot be set here.",
                },
                {
                    "field": "created_at",
                    "code": "unknown_field",
                    "message": "This field is read-only.",
                },
            ],
        ),
        (
            {"code": "x"},
            [
                {"field": "name", "code": "required", "message": "This field is required."},
                {"field": "unit", "code": "required", "message": "This field is required."},
                {"field": "aggregation", "code": "required", "message": "This field is required."},
            ],
        ),
    ],
)
def test_meter_validation_errors_name_the_field_and_save_nothing(world, body, errors):
    before = catalog_state(world["tv"])
    assert errors_of(post(world["vendor"], "/api/v1/meters/", body)) == errors
    assert catalog_state(world["tv"]) == before


# --- price plans -----------------------------------------------------------------------------


def create_plan(world, body=None):
    post(world["vendor"], "/api/v1/meters/", METER)
    return post(world["vendor"], "/api/v1/price-plans/", body or PLAN)


def test_price_plan_create_answers_the_plan_with_its_current_charges(world):
    response = create_plan(world)
    assert response.status_code == 201, response.content
    body = dict(response.json())
    assert without_created_at(body) == {
        "code": "msp-standard",
        "name": "MSP Standard",
        "currency": "EUR",
        "version": 1,
        "effective_from": "2026-03",
        "charges": PLAN_CHARGES_OUT,
        "versions": [{"version": 1, "effective_from": "2026-03"}],
    }
    again = world["vendor"].get("/api/v1/price-plans/msp-standard/").json()
    assert again == response.json()


def test_price_plan_effective_from_defaults_to_this_month(world):
    body = {key: value for key, value in PLAN.items() if key != "effective_from"}
    response = create_plan(world, body)
    assert response.status_code == 201
    assert response.json()["effective_from"] == "2026-03"


@pytest.mark.parametrize(
    ("change", "errors"),
    [
        # Rules of the service: the path of the charge and tier it is about.
        (
            lambda b: b["charges"][1]["tiers"].insert(0, {"up_to": 200, "unit_price": "1"}),
            [
                {
                    "field": "charges[1].tiers[1].up_to",
                    "code": "invalid",
                    "message": "Tiers go up: up_to must be above the previous tier's (200).",
                }
            ],
        ),
        (
            lambda b: b["charges"][1]["tiers"][1].update(up_to=500),
            [
                {
                    "field": "charges[1].tiers[1].up_to",
                    "code": "invalid",
                    "message": "The last tier has no upper bound: set up_to to null.",
                }
            ],
        ),
        (
            lambda b: b["charges"][0].update(meter="devices"),
            [
                {
                    "field": "charges[0].seats",
                    "code": "invalid",
                    "message": "A charge is on a meter or on seats, not both.",
                }
            ],
        ),
        (
            lambda b: b["charges"][3].pop("counting_rule"),
            [
                {
                    "field": "charges[3].counting_rule",
                    "code": "invalid",
                    "message": "A seat charge needs a counting rule: average, peak or snapshot.",
                }
            ],
        ),
        (
            lambda b: b["charges"][2].update(meter="ghost"),
            [
                {
                    "field": "charges[2].meter",
                    "code": "invalid",
                    "message": "There is no meter “ghost”.",
                }
            ],
        ),
        (
            lambda b: b.update(currency="EURO"),
            [
                {
                    "field": "currency",
                    "code": "invalid",
                    "message": "“EURO” is not an ISO 4217 currency code.",
                }
            ],
        ),
        # Shape errors of the serializer: the same paths.
        (
            lambda b: b["charges"][1]["tiers"][0].update(unit_price="lots", upto=3),
            [
                {
                    "field": "charges[1].tiers[0].upto",
                    "code": "unknown_field",
                    "message": "Unknown field, or one that cannot be set here.",
                },
                {
                    "field": "charges[1].tiers[0].unit_price",
                    "code": "invalid",
                    "message": "A valid number is required.",
                },
            ],
        ),
        (
            lambda b: b["charges"][2].update(model="tiered"),
            [
                {
                    "field": "charges[2].model",
                    "code": "invalid_choice",
                    "message": '"tiered" is not a valid choice.',
                }
            ],
        ),
        (
            # Decimals are strings (a float is not read as one).
            lambda b: b["charges"][0].update(unit_price=3.5),
            [
                {
                    "field": "charges[0].unit_price",
                    "code": "not_a_string",
                    "message": 'Give it as a decimal string, e.g. "12.50".',
                }
            ],
        ),
        (
            lambda b: b.update(effective_from="March"),
            [
                {
                    "field": "effective_from",
                    "code": "invalid",
                    "message": 'Give the month as YYYY-MM, e.g. "2026-10".',
                }
            ],
        ),
    ],
)
def test_price_plan_validation_errors_have_exact_field_paths(world, change, errors):
    post(world["vendor"], "/api/v1/meters/", METER)
    body = json.loads(json.dumps(PLAN))
    change(body)
    before = catalog_state(world["tv"])
    assert errors_of(post(world["vendor"], "/api/v1/price-plans/", body)) == errors
    assert catalog_state(world["tv"]) == before


REVISION = {
    "effective_from": "2026-05",
    "charges": [{"seats": True, "model": "per_unit", "unit_price": "4", "counting_rule": "peak"}],
}


def test_revise_adds_a_version_from_a_future_month(world):
    create_plan(world)
    api = world["vendor"]
    revised = post(api, "/api/v1/price-plans/msp-standard/revise/", REVISION)
    assert revised.status_code == 201, revised.content
    assert revised.json() == {
        "plan": "msp-standard",
        "currency": "EUR",
        "version": 2,
        "effective_from": "2026-05",
        "charges": [
            {
                "meter": None,
                "seats": True,
                "model": "per_unit",
                "unit_price": "4.00",
                "tiers": [],
                "package_size": None,
                "package_price": None,
                "flat_fee": None,
                "pooled": False,
                "counting_rule": "peak",
            }
        ],
    }
    # March still bills version 1; both versions are listed.
    plan = api.get("/api/v1/price-plans/msp-standard/").json()
    assert (plan["version"], plan["effective_from"], plan["charges"]) == (
        1,
        "2026-03",
        PLAN_CHARGES_OUT,
    )
    assert plan["versions"] == [
        {"version": 1, "effective_from": "2026-03"},
        {"version": 2, "effective_from": "2026-05"},
    ]


def test_the_current_version_follows_the_vendors_calendar(world, monkeypatch):
    create_plan(world)
    post(world["vendor"], "/api/v1/price-plans/msp-standard/revise/", REVISION)
    # 22:30 UTC on 30 April is 1 May in Berlin: version 2 is in effect.
    monkeypatch.setattr(
        timezone, "now", lambda: datetime.datetime(2026, 4, 30, 22, 30, tzinfo=datetime.UTC)
    )
    plan = world["vendor"].get("/api/v1/price-plans/msp-standard/").json()
    assert (plan["version"], plan["effective_from"]) == (2, "2026-05")
    assert plan["charges"][0]["unit_price"] == "4.00"


def test_revise_errors_and_unknown_plans(world):
    create_plan(world)
    api = world["vendor"]
    before = catalog_state(world["tv"])
    started = post(
        api, "/api/v1/price-plans/msp-standard/revise/", {**REVISION, "effective_from": "2026-03"}
    )
    assert errors_of(started) == [
        {
            "field": "effective_from",
            "code": "invalid",
            "message": "New prices start in a month that has not begun: 2026-04 at the earliest.",
        }
    ]
    bad_charge = post(
        api,
        "/api/v1/price-plans/msp-standard/revise/",
        {**REVISION, "charges": [{"seats": True, "model": "flat", "counting_rule": "peak"}]},
    )
    assert errors_of(bad_charge) == [
        {
            "field": "charges[0].flat_fee",
            "code": "invalid",
            "message": "A flat charge needs its fee.",
        }
    ]
    missing = post(api, "/api/v1/price-plans/nope/revise/", REVISION)
    assert missing.status_code == 404
    assert catalog_state(world["tv"]) == before


# --- partner keys ----------------------------------------------------------------------------


def test_partner_keys_read_the_catalog_but_never_change_it(world):
    create_plan(world)
    key = world["partner"]
    assert [row["code"] for row in key.get("/api/v1/meters/").json()["results"]] == ["devices"]
    assert key.get("/api/v1/meters/devices/").status_code == 200
    plans = key.get("/api/v1/price-plans/").json()["results"]
    assert [row["code"] for row in plans] == ["msp-standard"]
    assert key.get("/api/v1/price-plans/msp-standard/").json()["charges"] == PLAN_CHARGES_OUT

    before = catalog_state(world["tv"])
    writes = [
        ("/api/v1/meters/", {**METER, "code": "other"}),
        ("/api/v1/price-plans/", {**PLAN, "code": "other"}),
        ("/api/v1/price-plans/msp-standard/revise/", REVISION),
    ]
    for url, body in writes:
        response = post(key, url, body)
        assert response.status_code == 403, (url, response.content)
        assert response["Content-Type"] == PROBLEM_CONTENT_TYPE
        assert response.json()["detail"] == (
            "The catalog is the vendor's: partner keys can read it, not change it."
        )
    assert catalog_state(world["tv"]) == before


def test_vendor_b_keys_see_nothing_of_vendor_a(world, vendor_b):
    create_plan(world)
    api_b = host_client(vendor_b.host, HTTP_AUTHORIZATION=f"Bearer {make_api_key(vendor_b)}")
    assert api_b.get("/api/v1/meters/").json()["results"] == []
    assert api_b.get("/api/v1/price-plans/msp-standard/").status_code == 404


# --- query counts ----------------------------------------------------------------------------


def add_plans(tv, start: int, count: int) -> None:
    with tenant_context(tv.vendor):
        meter = Meter.objects.filter(code="qc").first() or meter_create(
            code="qc", name="QC", unit="x", aggregation="sum", actor=ACTOR
        )
        for n in range(start, start + count):
            price_plan_create(
                code=f"plan-{n:03d}",
                name=f"Plan {n}",
                currency="EUR",
                effective_from=datetime.date(2026, 1, 1),
                charges=[
                    {
                        "meter": meter.code,
                        "model": "volume",
                        "tiers": [
                            {"up_to": 10, "unit_price": "1"},
                            {"up_to": None, "unit_price": "0.5"},
                        ],
                    },
                    {
                        "seats": True,
                        "model": "per_unit",
                        "unit_price": "2",
                        "counting_rule": "peak",
                    },
                ],
                actor=ACTOR,
            )


def queries_of(client, url: str) -> tuple[int, int]:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200, response.content
    return len(captured), len(response.json()["results"])


@pytest.mark.parametrize("key", ["vendor", "partner"])
def test_list_queries_do_not_grow_with_rows(world, key, django_assert_max_num_queries):
    client = world[key]
    add_plans(world["tv"], 0, 2)
    client.get("/api/v1/meters/")  # the key's first use records last_used_at once
    few_plans = queries_of(client, "/api/v1/price-plans/?limit=500")
    few_meters = queries_of(client, "/api/v1/meters/?limit=500")
    add_plans(world["tv"], 2, 10)
    with schema_context(world["tv"].schema):
        for n in range(10):
            Meter.objects.create(code=f"m{n}", name="M", unit="x", aggregation="sum")
    # search_path, key, plans, versions, charges (+ meters), tiers.
    with django_assert_max_num_queries(6):
        many_plans = queries_of(client, "/api/v1/price-plans/?limit=500")
    with django_assert_max_num_queries(3):
        many_meters = queries_of(client, "/api/v1/meters/?limit=500")
    assert (few_plans[1], many_plans[1]) == (2, 12)
    assert (few_meters[1], many_meters[1]) == (1, 11)
    assert many_plans[0] == few_plans[0]
    assert many_meters[0] == few_meters[0]


# --- the OpenAPI schema ----------------------------------------------------------------------

OPERATIONS = {
    "/api/v1/meters/": {"get", "post"},
    "/api/v1/meters/{code}/": {"get"},
    "/api/v1/price-plans/": {"get", "post"},
    "/api/v1/price-plans/{code}/": {"get"},
    "/api/v1/price-plans/{code}/revise/": {"post"},
}


def test_spectacular_validates_the_catalog_without_warnings(tmp_path):
    out = tmp_path / "schema.json"
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "msp_program.settings.test"}
    result = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "spectacular",
            "--validate",
            "--fail-on-warn",
            "--format",
            "openapi-json",
            "--file",
            str(out),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    schema = json.loads(out.read_text())
    paths = schema["paths"]
    for path, methods in OPERATIONS.items():
        assert set(paths[path]) - {"parameters"} == methods, path
    components = schema["components"]["schemas"]
    assert set(components["Charge"]["properties"]) == {
        "meter",
        "seats",
        "model",
        "unit_price",
        "tiers",
        "package_size",
        "package_price",
        "flat_fee",
        "pooled",
        "counting_rule",
    }
    assert components["ChargeTier"]["properties"]["unit_price"]["type"] == "string"
    assert set(components["PricePlan"]["properties"]) == {
        "code",
        "name",
        "currency",
        "version",
        "effective_from",
        "charges",
        "versions",
        "created_at",
    }
    assert set(components["MeterCreateRequest"]["required"]) == {
        "code",
        "name",
        "unit",
        "aggregation",
    }
    revise = paths["/api/v1/price-plans/{code}/revise/"]["post"]["responses"]
    assert set(revise) == {"201", "400", "403", "404"}
    assert set(revise["403"]["content"]) == {"application/problem+json"}
