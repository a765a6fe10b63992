"""Statement pages: the console list (filters, HTMX partial, totals, bulk approval by finance
only), a statement (entries by kind, each accrual expanded to its invoice lines and clients,
dispute resolution), PDF and CSV; the portal shows a partner only its own statements, lets owner
and billing users dispute a line and the owner pick the payout method. Refusals are 404/403 and
change nothing."""

from __future__ import annotations

import csv
import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.enums import VendorRole
from incentives.models import (
    Payout,
    PayoutMethod,
    PayoutProfile,
    Statement,
    StatementDispute,
    StatementStatus,
)
from tests.partners.clients_support import body
from tests.partners.program_fixtures import console_client, portal_client

from .statement_support import D
from .statement_world import World, build_world

pytestmark = pytest.mark.django_db

LIST = "/console/statements/"
PORTAL = "/portal/commissions/"


@pytest.fixture
def world(vendor_a) -> World:
    return build_world(vendor_a)


def _status(world: World, statement: Statement) -> str:
    with world.schema():
        return Statement.objects.get(pk=statement.pk).status


def test_console_list_filters_and_totals(world):
    client = console_client(world.tv, VendorRole.ANALYST)
    html = body(client.get(LIST))
    assert "Alpha IT" in html and "Bravo Systems" in html
    assert "payable €25.00" in html  # 18.00 + 7.00
    assert 'name="statements"' not in html  # analysts cannot approve
    partial = client.get(LIST, {"partner": world.alpha.pk}, HTTP_HX_REQUEST="true")
    text = body(partial)
    assert "<html" not in text
    assert "Alpha IT" in text and "Bravo Systems" not in text
    assert "payable €18.00" in text


def test_console_list_queries_do_not_grow_with_rows(world):
    client = console_client(world.tv, VendorRole.FINANCE)
    client.get(LIST)  # warm up (session, tenant routing)
    with CaptureQueriesContext(connection) as few:
        client.get(LIST)
    from tests.factories import PartnerFactory

    from .statement_support import post

    with world.schema():
        for _ in range(5):
            post(PartnerFactory(), "2026-10", "1.00")
    with CaptureQueriesContext(connection) as many:
        client.get(LIST)
    assert len(many) == len(few)


def test_finance_bulk_approves_from_the_list(world):
    client = console_client(world.tv, VendorRole.FINANCE)
    assert 'name="statements"' in body(client.get(LIST))
    response = client.post(
        f"{LIST}approve/",
        {"statements": [world.alpha_statement.pk, world.bravo_statement.pk]},
    )
    assert response.status_code == 302
    assert _status(world, world.alpha_statement) == StatementStatus.APPROVED
    assert _status(world, world.bravo_statement) == StatementStatus.APPROVED
    with world.schema():
        assert sorted(Payout.objects.values_list("amount", flat=True)) == [D("7.00"), D("18.00")]


@pytest.mark.parametrize("role", [VendorRole.ANALYST, VendorRole.CHANNEL_MANAGER])
def test_other_roles_cannot_approve_and_nothing_changes(world, role):
    client = console_client(world.tv, role)
    assert (
        client.post(f"{LIST}approve/", {"statements": [world.alpha_statement.pk]}).status_code
        == 403
    )
    pk = world.alpha_statement.pk
    assert client.post(f"{LIST}{pk}/approve/").status_code == 403
    assert _status(world, world.alpha_statement) == StatementStatus.DRAFT
    with world.schema():
        assert not Payout.objects.exists()


def test_console_detail_expands_accruals_to_invoice_lines(world):
    client = console_client(world.tv, VendorRole.FINANCE)
    html = body(client.get(f"{LIST}{world.alpha_statement.pk}/"))
    assert "Commission on INV October" in html
    assert "Seats (Kiwi)" in html and "Seats (Lime)" in html
    assert "Kiwi Dental" in html and "Lime Law" in html
    assert "€10.00" in html and "€5.00" in html  # shares of 15.00 by net 100 : 50
    assert 'data-kind="growth_bonus"' in html and 'data-kind="clawback"' in html
    assert world.invoice_number in html
    response = client.post(f"{LIST}{world.alpha_statement.pk}/approve/")
    assert response.status_code == 302
    assert _status(world, world.alpha_statement) == StatementStatus.APPROVED


def test_csv_has_a_row_per_invoice_line_and_per_other_entry(world):
    client = console_client(world.tv, VendorRole.ANALYST)
    response = client.get(f"{LIST}{world.alpha_statement.pk}/statement.csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode().lstrip("\ufeff"))))
    assert [
        (
            r["kind"],
            r["invoice_number"],
            r["client"],
            r["line_description"],
            r["line_net"],
            r["rate_pct"],
            r["amount"],
        )
        for r in rows
    ] == [
        (
            "accrual",
            world.invoice_number,
            "Kiwi Dental",
            "Seats (Kiwi)",
            "100.00",
            "10",
            "10.00",
        ),
        (
            "accrual",
            world.invoice_number,
            "Lime Law",
            "Seats (Lime)",
            "50.00",
            "10",
            "5.00",
        ),
        ("growth_bonus", "", "", "", "", "", "5.00"),
        ("clawback", "", "", "", "", "", "-2.00"),
    ]
    assert {r["statement_month"] for r in rows} == {"2026-10"}
    assert {r["partner"] for r in rows} == {"Alpha IT"}


def test_pdf(world):
    client = console_client(world.tv, VendorRole.ANALYST)
    response = client.get(f"{LIST}{world.alpha_statement.pk}/pdf/")
    assert response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")
    from pypdf import PdfReader

    text = PdfReader(io.BytesIO(response.content)).pages[0].extract_text()
    assert "Commission statement" in text and "Kiwi Dental" in text and "Alpha IT" in text


def test_finance_resolves_a_dispute_in_the_console(world):
    owner = portal_client(world.tv, world.alpha, "owner")
    url = f"{PORTAL}{world.alpha_statement.pk}/entries/{world.accrual.pk}/dispute/"
    assert owner.post(url, {"reason": "Rate should be 12 %"}).status_code == 302
    with world.schema():
        dispute = StatementDispute.objects.get()
        assert (dispute.held_amount, dispute.opened_by_label) == (
            D("15.00"),
            dispute.opened_by_label,
        )
        assert Statement.objects.get(pk=world.alpha_statement.pk).payable == D("3.00")
    finance = console_client(world.tv, VendorRole.FINANCE)
    html = body(finance.get(f"{LIST}{world.alpha_statement.pk}/"))
    assert "Rate should be 12 %" in html and "Uphold with this amount" in html
    response = finance.post(
        f"/console/statement-disputes/{dispute.pk}/resolve/",
        {"outcome": "uphold", "corrected_amount": "18.00", "resolution": "Agreed"},
    )
    assert response.status_code == 302
    with world.schema():
        statement = Statement.objects.get(pk=world.alpha_statement.pk)
        assert (statement.adjustments, statement.held, statement.payable) == (
            D("3.00"),
            D("0"),
            D("21.00"),
        )


def test_analysts_cannot_resolve_and_nothing_changes(world):
    owner = portal_client(world.tv, world.alpha, "owner")
    owner.post(
        f"{PORTAL}{world.alpha_statement.pk}/entries/{world.accrual.pk}/dispute/",
        {"reason": "Wrong"},
    )
    with world.schema():
        dispute = StatementDispute.objects.get()
    analyst = console_client(world.tv, VendorRole.ANALYST)
    response = analyst.post(
        f"/console/statement-disputes/{dispute.pk}/resolve/", {"outcome": "reject"}
    )
    assert response.status_code == 403
    with world.schema():
        assert StatementDispute.objects.get().status == "open"


# --- portal ---------------------------------------------------------------------------------


def test_portal_lists_only_the_partners_own_statements(world):
    client = portal_client(world.tv, world.alpha, "viewer")
    html = body(client.get(PORTAL))
    assert "October 2026" in html
    assert f"/portal/commissions/{world.alpha_statement.pk}/" in html
    assert f"/portal/commissions/{world.bravo_statement.pk}/" not in html
    detail = body(client.get(f"{PORTAL}{world.alpha_statement.pk}/"))
    assert "Kiwi Dental" in detail
    assert "Dispute this line" not in detail  # viewers cannot dispute


@pytest.mark.parametrize("suffix", ["", "pdf/", "statement.csv"])
def test_portal_another_partners_statement_is_404(world, suffix):
    client = portal_client(world.tv, world.alpha, "owner")
    assert client.get(f"{PORTAL}{world.bravo_statement.pk}/{suffix}").status_code == 404


def test_portal_dispute_of_another_partners_entry_is_404_and_changes_nothing(world):
    client = portal_client(world.tv, world.alpha, "owner")
    # Bravo's statement, and Bravo's entry through Alpha's statement: both 404.
    for url in (
        f"{PORTAL}{world.bravo_statement.pk}/entries/{world.bravo_accrual.pk}/dispute/",
        f"{PORTAL}{world.alpha_statement.pk}/entries/{world.bravo_accrual.pk}/dispute/",
    ):
        assert client.post(url, {"reason": "mine"}).status_code == 404
    with world.schema():
        assert not StatementDispute.objects.exists()
        assert Statement.objects.get(pk=world.bravo_statement.pk).held == D("0")


@pytest.mark.parametrize(
    "role, allowed", [("owner", True), ("billing", True), ("technician", False), ("viewer", False)]
)
def test_portal_dispute_roles(world, role, allowed):
    client = portal_client(world.tv, world.alpha, role)
    detail = body(client.get(f"{PORTAL}{world.alpha_statement.pk}/"))
    assert ("Dispute this line" in detail) is allowed
    response = client.post(
        f"{PORTAL}{world.alpha_statement.pk}/entries/{world.accrual.pk}/dispute/",
        {"reason": "Wrong rate"},
    )
    assert response.status_code == (302 if allowed else 403)
    with world.schema():
        assert StatementDispute.objects.exists() is allowed


def test_portal_owner_picks_the_payout_method(world):
    owner = portal_client(world.tv, world.alpha, "owner")
    url = f"{PORTAL}payout-method/"
    assert "Credit on the next invoice" in body(owner.get(url))
    bad = owner.post(url, {"method": "stripe_transfer", "stripe_account_id": "nope"})
    assert bad.status_code == 200 and "connected account id" in body(bad)
    response = owner.post(url, {"method": "stripe_transfer", "stripe_account_id": "acct_1Ab"})
    assert response.status_code == 302
    with world.schema():
        profile = PayoutProfile.objects.get(partner=world.alpha)
        assert (profile.method, profile.stripe_account_id) == (
            PayoutMethod.STRIPE_TRANSFER,
            "acct_1Ab",
        )


def test_portal_billing_user_cannot_change_the_payout_method(world):
    client = portal_client(world.tv, world.alpha, "billing")
    url = f"{PORTAL}payout-method/"
    assert client.get(url).status_code == 200
    response = client.post(url, {"method": "stripe_transfer", "stripe_account_id": "acct_1Ab"})
    assert response.status_code == 403
    with world.schema():
        assert not PayoutProfile.objects.exists()


def test_nav_links(world):
    assert 'href="/console/statements/"' in body(
        console_client(world.tv, VendorRole.ANALYST).get("/console/")
    )
    assert 'href="/portal/commissions/"' in body(
        portal_client(world.tv, world.alpha, "viewer").get(PORTAL)
    )
