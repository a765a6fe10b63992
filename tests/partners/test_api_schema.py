"""The OpenAPI schema describes the partners resources exactly, and passes drf-spectacular's
validation with warnings treated as errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]

OPERATIONS = {
    "/api/v1/partners/": {"get", "post"},
    "/api/v1/partners/{id}/": {"get", "patch"},
    "/api/v1/clients/": {"get", "post"},
    "/api/v1/clients/{id}/": {"get", "patch"},
    "/api/v1/tracks/": {"get"},
    "/api/v1/tracks/{id}/": {"get"},
    "/api/v1/tiers/": {"get"},
    "/api/v1/tiers/{id}/": {"get"},
}


def test_spectacular_validates_without_warnings(tmp_path):
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
    paths = json.loads(out.read_text())["paths"]
    for path, methods in OPERATIONS.items():
        assert set(paths[path]) - {"parameters"} == methods, path


@pytest.fixture
def schema(api_a) -> dict:
    response = api_a.get("/api/v1/schema/?format=json")
    assert response.status_code == 200
    return json.loads(response.content)


def props(schema: dict, component: str) -> dict:
    return schema["components"]["schemas"][component]["properties"]


def query_params(operation: dict) -> set[str]:
    return {p["name"] for p in operation["parameters"] if p["in"] == "query"}


def test_served_schema_lists_the_resources_fields_and_filters(schema):
    paths = schema["paths"]
    assert {path: set(ops) for path, ops in paths.items() if path in OPERATIONS} == OPERATIONS
    assert set(props(schema, "Partner")) == {
        "id",
        "name",
        "external_id",
        "status",
        "status_since",
        "track",
        "tier",
        "tier_id",
        "currency",
        "country",
        "billing_email",
        "billing_address",
        "tax_rate",
        "created_at",
    }
    assert props(schema, "Partner")["tax_rate"]["type"] == "string"
    assert props(schema, "Partner")["tier"]["nullable"] is True
    assert set(props(schema, "Client")) == {
        "id",
        "partner",
        "name",
        "external_id",
        "status",
        "service_tier",
        "started_on",
        "ended_on",
        "created_at",
        "updated_at",
    }
    assert set(schema["components"]["schemas"]["ClientCreateRequest"]["required"]) == {
        "name",
        "external_id",
    }
    assert query_params(paths["/api/v1/partners/"]["get"]) == {
        "cursor",
        "limit",
        "status",
        "track",
        "tier",
        "tier_id",
        "country",
    }
    assert query_params(paths["/api/v1/clients/"]["get"]) == {
        "cursor",
        "limit",
        "partner",
        "status",
        "external_id",
    }
    assert query_params(paths["/api/v1/tiers/"]["get"]) == {"cursor", "limit", "track"}
    partner_param = next(
        p for p in paths["/api/v1/clients/"]["get"]["parameters"] if p["name"] == "partner"
    )
    assert partner_param["schema"] == {"type": "integer"}
    tier_requirements = props(schema, "TierRequirements")
    assert tier_requirements["min_mrr"]["type"] == "string"
    assert set(props(schema, "TierBenefits")) == {
        "wholesale_discount_pct",
        "commission_rate_pct",
        "growth_bonus_eligible",
        "support_sla",
    }


def test_errors_are_documented_as_problem_json(schema):
    patch = schema["paths"]["/api/v1/clients/{id}/"]["patch"]["responses"]
    assert set(patch) == {"200", "400", "403", "404"}
    for code in ("400", "403", "404"):
        assert set(patch[code]["content"]) == {"application/problem+json"}
        ref = patch[code]["content"]["application/problem+json"]["schema"]["$ref"]
        assert ref == "#/components/schemas/Problem"
    assert set(props(schema, "Problem")) == {"type", "title", "status", "detail", "errors"}
