"""billing-periods/ over the API: list, close (202, progress), finalize (409 outside review),
vendor keys only for writes (partner keys 403, nothing changes), problem+json everywhere."""

from __future__ import annotations

import pytest
from django_tenants.utils import schema_context

from billing.models import BillingPeriod, Invoice
from core.api.exceptions import PROBLEM_CONTENT_TYPE
from tests.billing.closing_support import build_world, october_usage, run_chunks
from tests.conftest import host_client, make_api_key

pytestmark = pytest.mark.django_db

URL = "/api/v1/billing-periods/"


@pytest.fixture
def world(vendor_a):
    with schema_context(vendor_a.schema):
        world = build_world()
        october_usage(world)
    world["vendor"] = host_client(
        vendor_a.host, HTTP_AUTHORIZATION=f"Bearer {make_api_key(vendor_a)}"
    )
    world["partner_key"] = host_client(
        vendor_a.host,
        HTTP_AUTHORIZATION=f"Bearer {make_api_key(vendor_a, partner_id=world['partner'].pk)}",
    )
    world["tv"] = vendor_a
    return world


def problem(response, status: int) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == PROBLEM_CONTENT_TYPE
    return response.json()


def test_close_answers_202_rates_in_chunks_and_finalize_numbers(
    world, django_capture_on_commit_callbacks
):
    api = world["vendor"]
    with django_capture_on_commit_callbacks(execute=False) as dispatched:
        response = api.post(f"{URL}2026-10/close/")
    assert response.status_code == 202, response.content
    body = response.json()
    assert {k: body[k] for k in ("month", "status", "progress", "needs_rerating")} == {
        "month": "2026-10",
        "status": "rating",
        "progress": 0,
        "needs_rerating": False,
    }
    assert len(dispatched) == 1  # the chunks go to the workers once the close has committed
    with schema_context(world["tv"].schema):
        assert run_chunks(BillingPeriod.objects.get(month="2026-10-01")) == ["done"]
    body = api.get(f"{URL}2026-10/").json()
    assert (body["status"], body["progress"]) == ("review", 100)

    response = api.post(f"{URL}2026-10/finalize/")
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "finalized"
    with schema_context(world["tv"].schema):
        assert list(Invoice.objects.values_list("number", "status")) == [("INV-000001", "open")]
    # Finalized: neither close nor finalize again.
    assert "is finalized" in problem(api.post(f"{URL}2026-10/finalize/"), 409)["detail"]
    assert "is finalized" in problem(api.post(f"{URL}2026-10/close/"), 409)["detail"]
    # The list, newest first: November was opened by the finalize.
    months = [(p["month"], p["status"]) for p in api.get(URL).json()["results"]]
    assert months == [("2026-11", "open"), ("2026-10", "finalized")]


def test_finalize_outside_review_and_closing_an_unfinished_month_answer_409(world):
    api = world["vendor"]
    assert problem(api.post(f"{URL}2026-10/finalize/"), 404)["status"] == 404
    with schema_context(world["tv"].schema):
        before = list(BillingPeriod.objects.values())
    assert "has not ended yet" in problem(api.post(f"{URL}2099-01/close/"), 409)["detail"]
    with schema_context(world["tv"].schema):
        assert list(BillingPeriod.objects.values()) == before
    api.post(f"{URL}2026-10/close/")
    body = problem(api.post(f"{URL}2026-10/finalize/"), 409)
    assert body["detail"] == "2026-10 is rating: only a period in review can be finalized."


def test_bad_months_are_404(world):
    for month in ("2026-13", "2026-00"):
        assert problem(world["vendor"].get(f"{URL}{month}/"), 404)["status"] == 404
        assert problem(world["vendor"].post(f"{URL}{month}/close/"), 404)["status"] == 404


def test_partner_keys_read_periods_but_cannot_close_or_finalize(world):
    partner = world["partner_key"]
    assert partner.get(URL).json() == {"results": [], "next": None}
    body = problem(partner.post(f"{URL}2026-10/close/"), 403)
    assert "partner keys can only read them" in body["detail"]
    with schema_context(world["tv"].schema):
        assert not BillingPeriod.objects.exists()
    world["vendor"].post(f"{URL}2026-10/close/")
    assert [p["month"] for p in partner.get(URL).json()["results"]] == ["2026-10"]
    problem(partner.post(f"{URL}2026-10/finalize/"), 403)
    with schema_context(world["tv"].schema):
        assert BillingPeriod.objects.get().status == "rating"
