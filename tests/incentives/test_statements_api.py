"""statements/ and payouts/ over the API: filters, exact figures, the PDF; approval by vendor
keys only, disputes by partner keys only; a partner key sees only its own partner's statements,
payouts and disputes (others are 404 and never listed) — and nothing changes on refusal."""

from __future__ import annotations

import pytest

from incentives.models import Payout, Statement, StatementDispute, StatementStatus
from tests.conftest import host_client, make_api_key

from .statement_support import D
from .statement_world import World, build_world

pytestmark = pytest.mark.django_db


class Keys:
    def __init__(self, w: World) -> None:
        tv = w.tv
        self.vendor = host_client(tv.host, HTTP_AUTHORIZATION=f"Bearer {make_api_key(tv)}")
        self.alpha = host_client(
            tv.host,
            HTTP_AUTHORIZATION=f"Bearer {make_api_key(tv, 'alpha', partner_id=w.alpha.pk)}",
        )
        self.bravo = host_client(
            tv.host,
            HTTP_AUTHORIZATION=f"Bearer {make_api_key(tv, 'bravo', partner_id=w.bravo.pk)}",
        )


@pytest.fixture
def world(vendor_a) -> World:
    return build_world(vendor_a)


@pytest.fixture
def keys(world) -> Keys:
    return Keys(world)


def _ids(response) -> list[int]:
    assert response.status_code == 200, response.content
    return [row["id"] for row in response.json()["results"]]


def test_list_and_filters(world, keys):
    a, b = world.alpha_statement.pk, world.bravo_statement.pk
    assert sorted(_ids(keys.vendor.get("/api/v1/statements/"))) == sorted([a, b])
    assert _ids(keys.vendor.get("/api/v1/statements/", {"partner": world.alpha.pk})) == [a]
    assert sorted(_ids(keys.vendor.get("/api/v1/statements/", {"month": "2026-10"}))) == sorted(
        [a, b]
    )
    assert _ids(keys.vendor.get("/api/v1/statements/", {"month": "2026-11"})) == []
    assert _ids(keys.vendor.get("/api/v1/statements/", {"status": "approved"})) == []
    bad = keys.vendor.get("/api/v1/statements/", {"month": "October"})
    assert bad.status_code == 400
    assert bad["Content-Type"] == "application/problem+json"


def test_detail_figures(world, keys):
    data = keys.alpha.get(f"/api/v1/statements/{world.alpha_statement.pk}/").json()
    assert {k: data[k] for k in ("month", "currency", "status", "accrued", "bonuses")} == {
        "month": "2026-10",
        "currency": "EUR",
        "status": "draft",
        "accrued": "15.00",
        "bonuses": "5.00",
    }
    assert (data["clawbacks"], data["held"], data["payable"]) == ("-2.00", "0.00", "18.00")
    assert [(e["kind"], e["amount"]) for e in data["entries"]] == [
        ("accrual", "15.00"),
        ("growth_bonus", "5.00"),
        ("clawback", "-2.00"),
    ]
    assert data["entries"][0]["invoice_number"] == world.invoice_number
    assert data["payout"] is None


def test_pdf(world, keys):
    response = keys.alpha.get(f"/api/v1/statements/{world.alpha_statement.pk}/pdf/")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")


def test_vendor_key_approves(world, keys):
    response = keys.vendor.post(f"/api/v1/statements/{world.alpha_statement.pk}/approve/")
    assert response.status_code == 200, response.content
    data = response.json()
    assert (data["status"], data["payable"], data["carried_forward"]) == (
        "approved",
        "18.00",
        "0.00",
    )
    assert (data["payout"]["amount"], data["payout"]["method"], data["payout"]["status"]) == (
        "18.00",
        "invoice_credit",
        "pending",
    )
    again = keys.vendor.post(f"/api/v1/statements/{world.alpha_statement.pk}/approve/")
    assert again.status_code == 409
    assert again["Content-Type"] == "application/problem+json"
    payouts = keys.alpha.get("/api/v1/payouts/").json()["results"]
    assert [(p["statement"], p["amount"]) for p in payouts] == [(world.alpha_statement.pk, "18.00")]
    assert keys.bravo.get("/api/v1/payouts/").json()["results"] == []


def test_partner_key_cannot_approve_and_nothing_changes(world, keys):
    own = keys.alpha.post(f"/api/v1/statements/{world.alpha_statement.pk}/approve/")
    assert own.status_code == 403
    other = keys.alpha.post(f"/api/v1/statements/{world.bravo_statement.pk}/approve/")
    assert other.status_code == 404
    with world.schema():
        assert set(Statement.objects.values_list("status", flat=True)) == {StatementStatus.DRAFT}
        assert not Payout.objects.exists()


def test_partner_key_disputes_its_own_entry(world, keys):
    url = f"/api/v1/statements/{world.alpha_statement.pk}/disputes/"
    response = keys.alpha.post(
        url, {"entry": world.accrual.pk, "reason": "Rate is 12 %"}, content_type="application/json"
    )
    assert response.status_code == 201, response.content
    assert (response.json()["status"], response.json()["held_amount"]) == ("open", "15.00")
    twice = keys.alpha.post(
        url, {"entry": world.accrual.pk, "reason": "Again"}, content_type="application/json"
    )
    assert twice.status_code == 409
    data = keys.alpha.get(f"/api/v1/statements/{world.alpha_statement.pk}/").json()
    assert (data["held"], data["payable"]) == ("15.00", "3.00")
    assert [d["reason"] for d in data["disputes"]] == ["Rate is 12 %"]


def test_dispute_refusals_change_nothing(world, keys):
    # Bravo's statement: 404 for Alpha's key.
    other = keys.alpha.post(
        f"/api/v1/statements/{world.bravo_statement.pk}/disputes/",
        {"entry": world.bravo_accrual.pk, "reason": "x"},
        content_type="application/json",
    )
    assert other.status_code == 404
    # Bravo's entry through Alpha's statement: a field error.
    foreign = keys.alpha.post(
        f"/api/v1/statements/{world.alpha_statement.pk}/disputes/",
        {"entry": world.bravo_accrual.pk, "reason": "x"},
        content_type="application/json",
    )
    assert foreign.status_code == 400
    assert foreign.json()["errors"][0]["field"] == "entry"
    # Vendor keys do not dispute.
    vendor = keys.vendor.post(
        f"/api/v1/statements/{world.alpha_statement.pk}/disputes/",
        {"entry": world.accrual.pk, "reason": "x"},
        content_type="application/json",
    )
    assert vendor.status_code == 403
    with world.schema():
        assert not StatementDispute.objects.exists()
        assert Statement.objects.get(pk=world.bravo_statement.pk).held == D("0")


def test_isolation_between_partners(world, keys):
    a, b = world.alpha_statement.pk, world.bravo_statement.pk
    assert _ids(keys.alpha.get("/api/v1/statements/")) == [a]
    assert _ids(keys.bravo.get("/api/v1/statements/")) == [b]
    # A partner filter naming another partner finds nothing, never its rows.
    assert _ids(keys.alpha.get("/api/v1/statements/", {"partner": world.bravo.pk})) == []
    for path in (f"/api/v1/statements/{b}/", f"/api/v1/statements/{b}/pdf/"):
        response = keys.alpha.get(path)
        assert response.status_code == 404
        assert response["Content-Type"] == "application/problem+json"
    keys.vendor.post(f"/api/v1/statements/{b}/approve/")
    with world.schema():
        payout = Payout.objects.get()
    assert keys.alpha.get(f"/api/v1/payouts/{payout.pk}/").status_code == 404
    assert keys.bravo.get(f"/api/v1/payouts/{payout.pk}/").status_code == 200


def test_other_tenants_key_is_refused(world, vendor_b):
    other = host_client(world.tv.host, HTTP_AUTHORIZATION=f"Bearer {make_api_key(vendor_b)}")
    assert other.get("/api/v1/statements/").status_code == 401
