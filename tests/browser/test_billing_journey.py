"""The month-end close journey in a real headless Chromium, with a real Celery worker rating:
finance closes last month in the console and watches the progress bar (htmx polling) reach
review, finalizes, and the MSP's owner finds the numbered invoice and its PDF in the portal.

It runs in a vendor of its own (committed, dropped at the end): the worker only sees committed
rows, and the session tenants stay untouched.
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
from billing.ingest import ingest_batch
from billing.services.catalog import meter_create, price_plan_create
from billing.services.subscriptions import subscription_create
from core.actors import Actor
from tenancy.models import Domain, Vendor
from tenancy.services import schema_name_for, vendor_create
from tests.celery_worker import start_worker
from tests.conftest import PASSWORD
from tests.factories import ClientFactory, MembershipFactory, PartnerFactory, UserFactory

from .conftest import CHROMIUM_ARGS, committed, require_chromium

pytestmark = [pytest.mark.browser, pytest.mark.worker, pytest.mark.django_db]

SLUG = "bill-journey"
HOST = f"{SLUG}.localhost"
ACTOR = Actor.system("billing journey")
FINANCE = "finance@bill-journey.example"
OWNER = "owner@bill-journey-msp.example"


def _seed():
    vendor = vendor_create(
        name="Bill Journey", slug=SLUG, domain=HOST, timezone="UTC", currency="EUR", actor=ACTOR
    )
    with schema_context(vendor.schema_name):
        month = previous_month(vendor_today().replace(day=1))
        User.objects.create_user(
            FINANCE, PASSWORD, full_name="Fiona Finance", vendor_role=VendorRole.FINANCE
        )
        partner = PartnerFactory(name="Harbor MSP", currency="EUR", tax_rate=Decimal("20"))
        MembershipFactory(
            partner=partner,
            role=PartnerRole.OWNER,
            user=UserFactory(email=OWNER, full_name="Olga Owner", vendor_role=""),
        )
        meter_create(code="storage", name="Storage", unit="GB", aggregation="sum", actor=ACTOR)
        plan = price_plan_create(
            code="backup",
            name="Backup",
            currency="EUR",
            effective_from=month,
            actor=ACTOR,
            charges=[
                {"seats": True, "model": "per_unit", "unit_price": "4", "counting_rule": "peak"},
                {"meter": "storage", "model": "per_unit", "unit_price": "0.25"},
            ],
        )
        client = ClientFactory(
            partner=partner, name="Lighthouse Dental", external_id="lh", started_on=month
        )
        subscription_create(
            client=client, price_plan=plan, quantity=10, started_on=month, actor=ACTOR
        )
        result = ingest_batch(
            [
                {
                    "event_id": "journey-1",
                    "client": "lh",
                    "partner": partner.pk,
                    "meter": "storage",
                    "quantity": "100",
                    "timestamp": f"{month:%Y-%m}-05T10:00:00+00:00",
                }
            ],
            caller_partner_id=None,
        )
        assert result.accepted == 1
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
    yield month
    committed(_drop, schema)


def _sign_in(page, base: str, email: str) -> None:
    page.goto(f"{base}/accounts/login/")
    page.get_by_label(re.compile(r"^e-?mail", re.I)).fill(email)
    page.locator('input[type="password"]').first.fill(PASSWORD)
    page.locator('form button[type="submit"]').first.click()


def test_close_finalize_and_find_the_invoice_in_the_portal(tenant_live_server, journey_vendor):
    executable = require_chromium()
    from playwright.sync_api import expect, sync_playwright

    month = journey_vendor
    label = f"{month:%B %Y}"
    base = f"http://{HOST}:{tenant_live_server.thread.port}"
    problems: list[str] = []
    worker = start_worker("bill-journey")
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(
                executable_path=executable, args=CHROMIUM_ARGS, headless=True
            )
            try:
                page = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
                page.on("pageerror", lambda e: problems.append(str(e)))
                page.on(
                    "response",
                    lambda r: r.status >= 400 and problems.append(f"{r.status} {r.url}"),
                )

                # -- finance closes last month and watches it being rated ------------------
                _sign_in(page, base, FINANCE)
                page.get_by_role("navigation", name="Console").get_by_role(
                    "link", name="Month-end close"
                ).click()
                expect(page.get_by_role("heading", level=1)).to_have_text("Month-end close")
                page.get_by_role("button", name=f"Close {label}").click()
                expect(page.locator("body")).to_contain_text(f"Rating {label} has started")
                row = page.locator(f'tr[data-month="{month:%Y-%m}"]')
                # htmx polls the table every second until the worker has rated every chunk.
                expect(row).to_contain_text("In review", timeout=30_000)
                expect(row).to_contain_text("1 invoice")
                # (10 seats × 4.00 + 100 GB × 0.25) + 20 % tax
                expect(row).to_contain_text("€78.00")

                row.get_by_text("Finalize…").click()
                row.get_by_role("button", name=f"Finalize {label}").click()
                expect(page.locator("body")).to_contain_text(f"{label} is finalized")
                expect(page.locator(f'tr[data-month="{month:%Y-%m}"]')).to_contain_text("Finalized")

                # -- the MSP finds its numbered invoice and the PDF ------------------------
                page.context.clear_cookies()
                _sign_in(page, base, OWNER)
                page.goto(f"{base}/portal/invoices/")
                expect(page.locator("#invoice-results")).to_contain_text("INV-000001")
                page.locator("#invoice-results").get_by_role("link", name="INV-000001").click()
                expect(page.locator("body")).to_contain_text("Lighthouse Dental")
                expect(page.locator("body")).to_contain_text("€78.00")
                pdf_link = page.get_by_role("link", name=re.compile("PDF"))
                # Fetched by the page itself (the browser resolves *.localhost, Node does not).
                pdf = page.evaluate(
                    """async (url) => {
                        const r = await fetch(url);
                        const head = new Uint8Array(await r.arrayBuffer()).slice(0, 4);
                        return [r.status, r.headers.get("content-type"),
                                String.fromCharCode(...head)];
                    }""",
                    pdf_link.first.get_attribute("href"),
                )
                assert pdf == [200, "application/pdf", "%PDF"]
            finally:
                browser.close()
    finally:
        worker.stop()
        worker.cleanup()
    assert problems == []
