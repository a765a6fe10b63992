"""The commission statement journey in a real headless Chromium: the MSP's owner opens last
month's draft statement in the portal and disputes one line; finance approves the statement in
bulk from the console list; the payout is what was not disputed, and the disputed amount is held.

It runs in a vendor of its own (committed, dropped at the end), like the billing journey.
"""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.db import connection
from django_tenants.utils import schema_context

from accounts.enums import PartnerRole, VendorRole
from accounts.models import User
from billing.closing.rate import previous_month, vendor_today
from core.actors import Actor
from incentives.models import EntryKind, LedgerEntry, Payout, Statement
from incentives.services.ledger import post_entries
from tenancy.models import Domain, Vendor
from tenancy.services import schema_name_for, vendor_create
from tests.conftest import PASSWORD
from tests.factories import MembershipFactory, PartnerFactory, UserFactory

from .conftest import CHROMIUM_ARGS, committed, require_chromium

pytestmark = [pytest.mark.browser, pytest.mark.django_db]

SLUG = "stmt-journey"
HOST = f"{SLUG}.localhost"
ACTOR = Actor.system("statement journey")
FINANCE = "finance@stmt-journey.example"
OWNER = "owner@stmt-journey-msp.example"


def _seed():
    vendor = vendor_create(
        name="Statement Journey",
        slug=SLUG,
        domain=HOST,
        timezone="UTC",
        currency="EUR",
        actor=ACTOR,
    )
    with schema_context(vendor.schema_name):
        month = previous_month(vendor_today().replace(day=1))
        User.objects.create_user(
            FINANCE, PASSWORD, full_name="Fiona Finance", vendor_role=VendorRole.FINANCE
        )
        partner = PartnerFactory(name="Harbor MSP", currency="EUR")
        MembershipFactory(
            partner=partner,
            role=PartnerRole.OWNER,
            user=UserFactory(email=OWNER, full_name="Olga Owner", vendor_role=""),
        )
        post_entries(
            [
                LedgerEntry(
                    partner_id=partner.pk,
                    currency="EUR",
                    kind=EntryKind.ACCRUAL,
                    month=month,
                    amount=Decimal(amount),
                    basis=Decimal(amount) * 10,
                    rate_pct=Decimal("10"),
                    description=description,
                    source_key=f"journey:{n}",
                )
                for n, (amount, description) in enumerate(
                    [("100.00", "Commission on Backup"), ("25.50", "Commission on RMM")]
                )
            ]
        )
    return vendor.schema_name, month


def _drop(schema: str) -> None:
    connection.set_schema_to_public()
    Domain.objects.filter(tenant__slug=SLUG).delete()
    Vendor.objects.filter(slug=SLUG).delete()
    with connection.cursor() as cursor:
        cursor.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture
def journey_vendor():
    committed(_drop, schema_name_for(SLUG))  # leftovers of an aborted run
    schema, month = committed(_seed)
    yield schema, month
    committed(_drop, schema)


def _sign_in(page, base: str, email: str) -> None:
    page.goto(f"{base}/accounts/login/")
    page.get_by_label(re.compile(r"^e-?mail", re.I)).fill(email)
    page.locator('input[type="password"]').first.fill(PASSWORD)
    page.locator('form button[type="submit"]').first.click()


def _payout(schema: str):
    def read():
        with schema_context(schema):
            statement = Statement.objects.get()
            payout = Payout.objects.filter(statement=statement).first()
            return statement.status, statement.held, payout and payout.amount

    return committed(read)


def test_dispute_a_line_then_finance_approves_and_only_the_rest_is_paid_out(
    tenant_live_server, journey_vendor
):
    executable = require_chromium()
    from playwright.sync_api import expect, sync_playwright

    schema, month = journey_vendor
    label = f"{month:%B %Y}"
    base = f"http://{HOST}:{tenant_live_server.thread.port}"
    problems: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
            page.on("pageerror", lambda e: problems.append(str(e)))
            page.on(
                "response", lambda r: r.status >= 400 and problems.append(f"{r.status} {r.url}")
            )

            # -- the MSP disputes one line of its draft statement ---------------------------
            _sign_in(page, base, OWNER)
            page.get_by_role("navigation", name="Partner portal").get_by_role(
                "link", name="Commissions"
            ).click()
            page.get_by_role("link", name=re.compile(label)).first.click()
            expect(page.locator("body")).to_contain_text("Commission on RMM")
            expect(page.locator("body")).to_contain_text("€125.50")
            row = page.locator("tr", has_text="Commission on RMM")
            row.get_by_text("Dispute", exact=True).click()
            row.locator("textarea").fill("These clients moved to another MSP in March.")
            row.get_by_role("button", name="Dispute this line").click()
            expect(page.locator("body")).to_contain_text("Dispute sent")
            expect(page.locator("#statement-disputes")).to_contain_text(
                "These clients moved to another MSP in March."
            )

            # -- finance approves it from the list -------------------------------------------
            page.context.clear_cookies()
            _sign_in(page, base, FINANCE)
            page.get_by_role("navigation", name="Console").get_by_role(
                "link", name="Statements"
            ).click()
            page.get_by_label(f"Approve Harbor MSP {label}").check()
            page.get_by_role("button", name="Approve selected").click()
            expect(page.locator("body")).to_contain_text("1 statement(s) approved.")
        finally:
            browser.close()
    assert problems == []
    # Only the undisputed €100.00 is paid out; the €25.50 stays held until finance resolves it.
    assert _payout(schema) == ("approved", Decimal("25.5000"), Decimal("100.0000"))
