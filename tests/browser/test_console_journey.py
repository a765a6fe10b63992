"""The console journey in a real headless Chromium: sign in, console home, audit log with htmx
filters and expandable rows, the mobile layout, sign out.

`WRITE_SCREENSHOT=1` also writes docs/img/console.png (the console home at 1280x800) for the README.
"""

from __future__ import annotations

import datetime
import os
import re
from pathlib import Path

import pytest
from django_tenants.utils import schema_context

from core.models import AuditEntry
from tests.conftest import PASSWORD

from .conftest import CHROMIUM_ARGS, committed, require_chromium, vendor_url

# `django_db` gets the test database set up; the data the server must see is written by
# `committed()` on its own connection (see conftest).
pytestmark = [pytest.mark.browser, pytest.mark.django_db]

SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "img" / "console.png"


def _add_audit_entries(tv) -> None:
    with schema_context(tv.schema):
        created = AuditEntry.objects.create(
            actor_kind="user",
            actor_label="admin@vendor-a.example",
            action="partner.created",
            object_type="partners.partner",
            object_id="41",
            object_repr="Acme IT",
            after={"name": "Acme IT", "status": "applied"},
        )
        updated = AuditEntry.objects.create(
            actor_kind="api_key",
            actor_label="API key psa-sync",
            ip="192.0.2.10",
            action="partner.updated",
            object_type="partners.partner",
            object_id="41",
            object_repr="Acme IT GmbH",
            before={"name": "Acme IT"},
            after={"name": "Acme IT GmbH"},
        )
        base = datetime.datetime(2026, 11, 2, 9, 30, tzinfo=datetime.UTC)
        AuditEntry.objects.filter(pk=created.pk).update(at=base)
        AuditEntry.objects.filter(pk=updated.pk).update(at=base + datetime.timedelta(hours=2))


@pytest.fixture
def audit_entries(vendor_a, undo_commits) -> None:
    """Two committed entries to look at (removed again by undo_commits)."""
    committed(_add_audit_entries, vendor_a)


def test_console_journey(tenant_live_server, vendor_a, audit_entries):
    executable = require_chromium()
    from playwright.sync_api import expect, sync_playwright

    base = vendor_url(tenant_live_server, vendor_a)
    problems: list[str] = []

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, headless=True)
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 800})
            page = context.new_page()
            page.on("console", lambda m: m.type == "error" and problems.append(m.text))
            page.on("pageerror", lambda e: problems.append(str(e)))
            page.on(
                "response",
                lambda r: r.status >= 400 and problems.append(f"{r.status} {r.url}"),
            )

            # -- sign in --------------------------------------------------------------------------
            page.goto(vendor_url(tenant_live_server, vendor_a, "/accounts/login/"))
            page.get_by_label(re.compile(r"^e-?mail", re.I)).fill(vendor_a.admin_email)
            page.locator('input[type="password"]').first.fill(PASSWORD)
            page.locator('form button[type="submit"]').first.click()

            # -- console home ---------------------------------------------------------------------
            expect(page).to_have_url(f"{base}console/")
            expect(page.get_by_role("heading", level=1)).to_have_text("Welcome, Vendor A Admin")
            expect(page).to_have_title("Home · Vendor A")
            sidebar = page.get_by_role("navigation", name="Console")
            expect(sidebar).to_be_visible()
            expect(sidebar.get_by_role("link", name="Home")).to_have_attribute(
                "aria-current", "page"
            )
            # An area still to come is announced as such and has no link.
            reports = sidebar.get_by_role("link", name=re.compile("^Reports"))
            expect(reports).to_have_attribute("aria-disabled", "true")
            assert reports.get_attribute("href") is None

            # The skip link is the first stop for keyboard users and becomes visible on focus.
            page.keyboard.press("Tab")
            skip = page.get_by_role("link", name="Skip to main content")
            expect(skip).to_be_focused()
            expect(skip).to_be_in_viewport()

            if os.environ.get("WRITE_SCREENSHOT") == "1":
                page.evaluate("document.activeElement.blur()")  # no focus ring in the picture
                SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(SCREENSHOT))

            # -- audit log ------------------------------------------------------------------------
            sidebar.get_by_role("link", name="Audit log").click()
            expect(page).to_have_url(f"{base}console/audit-log/")
            expect(page.get_by_role("heading", level=1)).to_have_text("Audit log")
            rows = page.locator("tbody.audit-entry")
            expect(rows).to_have_count(2)
            expect(page.locator("#audit-summary")).to_have_text("2 entries.")

            # Filtering swaps the results in place through htmx and pushes the URL.
            page.get_by_label("Action").select_option("partner.updated")
            page.wait_for_url(re.compile(r"/console/audit-log/\?.*action=partner\.updated"))
            expect(rows).to_have_count(1)
            expect(page.locator("#audit-summary")).to_have_text("1 entry matching the filters.")
            expect(rows.first).to_contain_text("API key psa-sync")

            # The row opens to its diff.
            toggle = rows.first.locator("button[data-expand]")
            detail = rows.first.locator("tr.audit-detail")
            expect(detail).to_be_hidden()
            toggle.click()
            expect(toggle).to_have_attribute("aria-expanded", "true")
            expect(detail).to_be_visible()
            expect(detail.locator("td.diff-before")).to_have_text("Acme IT")
            expect(detail.locator("td.diff-after")).to_have_text("Acme IT GmbH")

            # The actor search narrows it further, to nothing.
            page.get_by_label("Actor").fill("nobody-matches")
            expect(page.locator("#audit-summary")).to_have_text("No entries match the filters.")
            expect(page.get_by_role("heading", name="No matching entries")).to_be_visible()

            # Back restores the previous filter state.
            page.go_back()
            expect(page).to_have_url(re.compile(r"action=partner\.updated"))

            # -- mobile ---------------------------------------------------------------------------
            page.set_viewport_size({"width": 390, "height": 844})
            page.goto(f"{base}console/")
            menu = page.get_by_role("button", name="Menu")
            expect(menu).to_be_visible()
            expect(menu).to_have_attribute("aria-expanded", "false")
            expect(sidebar).to_be_hidden()
            assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), (
                "horizontal scrolling at 390px"
            )
            menu.click()
            expect(menu).to_have_attribute("aria-expanded", "true")
            expect(sidebar).to_be_visible()
            sidebar.get_by_role("link", name="Audit log").click()
            expect(page).to_have_url(f"{base}console/audit-log/")
            expect(rows).to_have_count(2)
            assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), (
                "horizontal scrolling on the audit log at 390px"
            )

            # -- sign out -------------------------------------------------------------------------
            page.locator("details.user-menu > summary").click()
            page.get_by_role("button", name="Sign out").click()
            expect(page).to_have_url(re.compile(r"/accounts/login/"))
            page.goto(f"{base}console/")
            expect(page).to_have_url(re.compile(r"/accounts/login/\?next=/console/"))
        finally:
            browser.close()

    assert problems == []
