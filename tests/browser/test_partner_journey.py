"""The partner-program journey in a real headless Chromium, one person per browser context:

an applicant applies on the vendor's public page → a channel manager approves in the console →
the applicant, now the MSP's owner, accepts the emailed invitation, accepts the agreement,
completes the billing profile, imports clients from a CSV file with one bad row (only the valid
rows) and sees onboarding complete and the partnership active.

The live server runs in this process with the locmem mail backend, so the invitation is read
from `django.core.mail.outbox` (the server thread appends to the same list).
"""

from __future__ import annotations

import re
import time

import pytest
from django.core import mail
from django_tenants.utils import schema_context

from accounts.enums import PartnerRole, VendorRole
from accounts.models import Invitation, User
from core.actors import Actor
from partners.enums import ApplicationStatus, OnboardingStepKind, PartnerStatus
from partners.models import (
    AgreementAcceptance,
    AgreementVersion,
    Application,
    Client,
    Partner,
    PartnerMembership,
)
from partners.services.agreements import agreement_publish
from partners.services.onboarding import onboarding_step_create
from partners.services.programs import program_create, track_create
from partners.services.tiers import tier_create
from partners.spam import MIN_FILL_SECONDS
from tests.conftest import PASSWORD

from .conftest import CHROMIUM_ARGS, committed, require_chromium, vendor_url

pytestmark = [pytest.mark.browser, pytest.mark.django_db]

TRACK = "Managed Services (journey)"
TIER = "Registered (journey)"
AGREEMENT_TITLE = "Journey Partner Agreement"
STEP_TITLES = ["Accept the partner agreement", "Complete your billing profile", "Add a client"]
CHANNEL_MANAGER = "channel@vendor-a.example"
COMPANY = "Northwind Managed IT GmbH"
APPLICANT = "Nora Lindqvist"
APPLICANT_EMAIL = "nora@northwind-it.example"
OWNER_PASSWORD = "blue-river-lantern-42"
SIGNER_TITLE = "Managing Director"
BILLING_ADDRESS = "Hafenstraße 12\n20457 Hamburg"
CSV_NAME = "northwind-clients.csv"
# Header = line 1; line 4 has an impossible date and is the one row left out.
CSV = (
    "name,external_id,status,service_tier,started_on\n"
    "Contoso Dental,NW-001,active,Essentials,2026-01-15\n"
    "Fabrikam Law,NW-002,trial,Premium,2026-02-01\n"
    "Litware Clinic,NW-003,active,Essentials,2026-13-01\n"
    "Adatum Bakery,NW-004,nfr,,2026-03-10\n"
)
IMPORTED = {"NW-001": "Contoso Dental", "NW-002": "Fabrikam Law", "NW-004": "Adatum Bakery"}


def _program(tv) -> None:
    """Vendor A's program as a vendor would have set it up in the console."""
    actor = Actor.system("tests")
    with schema_context(tv.schema):
        program = program_create(name="Journey program", actor=actor)
        track = track_create(
            program=program,
            name=TRACK,
            slug="journey-managed-services",
            accepts_applications=True,
            actor=actor,
        )
        tier_create(track=track, name=TIER, requires_agreement=True, actor=actor)
        agreement_publish(
            track=track,
            title=AGREEMENT_TITLE,
            body_markdown="## 1. Scope\n\nThe partner resells **the service** to its clients.",
            actor=actor,
        )
        for kind, title in zip(
            [
                OnboardingStepKind.ACCEPT_AGREEMENT,
                OnboardingStepKind.BILLING_PROFILE,
                OnboardingStepKind.FIRST_CLIENT,
            ],
            STEP_TITLES,
            strict=True,
        ):
            onboarding_step_create(track=track, kind=kind, title=title, required=True, actor=actor)
        User.objects.create_user(
            CHANNEL_MANAGER,
            PASSWORD,
            full_name="Chris Channel",
            vendor_role=VendorRole.CHANNEL_MANAGER,
        )


@pytest.fixture
def program(vendor_a, undo_new_rows) -> None:
    """Committed for the server to see; every row the journey adds is removed at teardown."""
    committed(_program, vendor_a)


def _watch(page, problems: list[str], who: str) -> None:
    page.on("console", lambda m: m.type == "error" and problems.append(f"{who}: {m.text}"))
    page.on("pageerror", lambda e: problems.append(f"{who}: {e}"))
    page.on(
        "response",
        lambda r: r.status >= 400 and problems.append(f"{who}: {r.status} {r.url}"),
    )


def _sign_in(page, url: str, email: str, password: str) -> None:
    page.goto(url)
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def _invitation_link(host: str) -> str:
    """The accept link of the invitation emailed to the applicant."""
    invitations = [
        m for m in mail.outbox if m.to == [APPLICANT_EMAIL] and "/accounts/invitations/" in m.body
    ]
    assert len(invitations) == 1, [(m.to, m.subject) for m in mail.outbox]
    assert invitations[0].subject == (
        f"Chris Channel invited you to {COMPANY} in the Vendor A partner portal"
    )
    found = re.findall(
        rf"http://{re.escape(host)}/accounts/invitations/[\w-]+/", invitations[0].body
    )
    assert len(found) == 1, invitations[0].body
    return found[0]


def test_partner_journey(tenant_live_server, vendor_a, program):
    executable = require_chromium()
    from playwright.sync_api import expect, sync_playwright

    base = vendor_url(tenant_live_server, vendor_a)
    host = f"{vendor_a.host}:{tenant_live_server.thread.port}"
    problems: list[str] = []

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, headless=True)
        try:
            # -- the applicant applies on the public page --------------------------------------
            applicant = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
            _watch(applicant, problems, "applicant")
            applicant.goto(f"{base}apply/")
            served = time.monotonic()  # the form's signed timestamp is older than this
            expect(applicant.get_by_role("heading", level=1)).to_have_text(
                "Join the Vendor A partner program"
            )
            applicant.get_by_label("Company").fill(COMPANY)
            applicant.get_by_label("Your name").fill(APPLICANT)
            applicant.get_by_label("Work email").fill(APPLICANT_EMAIL)
            applicant.get_by_label("Country").select_option("DE")
            applicant.get_by_label("Program track").select_option(label=TRACK)
            applicant.get_by_label("Clients you expect to manage").fill("40")
            applicant.get_by_label("Anything else we should know?").fill("We run 40 practices.")
            # A person takes a while; the spam check refuses anything faster (no mocked clock).
            remaining = MIN_FILL_SECONDS + 0.5 - (time.monotonic() - served)
            if remaining > 0:
                applicant.wait_for_timeout(remaining * 1000)
            applicant.get_by_role("button", name="Submit application").click()
            expect(applicant).to_have_url(f"{base}apply/thanks/")
            expect(applicant.get_by_role("heading", level=1)).to_have_text("Thank you for applying")
            expect(applicant.get_by_role("heading", name="What happens next")).to_be_visible()
            assert [(m.to, m.subject) for m in mail.outbox] == [
                ([APPLICANT_EMAIL], "We received your application to the Vendor A partner program")
            ]

            # -- the channel manager approves it -----------------------------------------------
            console = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
            _watch(console, problems, "channel manager")
            _sign_in(console, f"{base}accounts/login/", CHANNEL_MANAGER, PASSWORD)
            expect(console).to_have_url(f"{base}console/")
            sidebar = console.get_by_role("navigation", name="Console")
            sidebar.get_by_role("link", name="Applications").click()
            expect(console).to_have_url(f"{base}console/applications/")
            expect(console.get_by_role("heading", level=1)).to_have_text("Applications")
            row = console.locator("tbody tr").filter(has_text=COMPANY)
            expect(row).to_have_count(1)
            expect(row).to_contain_text(APPLICANT_EMAIL)
            expect(row.locator('td[data-label="Track"]')).to_have_text(TRACK)
            expect(row.locator('td[data-label="Expected clients"]')).to_have_text("40")
            row.get_by_role("link", name=COMPANY).click()
            expect(console).to_have_url(re.compile(r"/console/applications/\d+/$"))
            expect(console.get_by_role("heading", level=1)).to_have_text(COMPANY)
            expect(console.locator("dl.facts").first).to_contain_text("Germany")
            console.get_by_role("button", name="Approve").click()
            expect(console).to_have_url(re.compile(r"/console/partners/\d+/$"))
            expect(console.locator(".message-text")).to_have_text(
                f"{COMPANY} is approved: the partner is onboarding and {APPLICANT_EMAIL} is "
                "invited as its owner."
            )
            expect(console.get_by_role("heading", level=1)).to_have_text(COMPANY)
            expect(console.locator(".page-lede .badge")).to_have_text("Onboarding")

            # -- the applicant, now the MSP's admin, accepts the invitation ---------------------
            link = _invitation_link(host)
            portal = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
            _watch(portal, problems, "msp admin")
            portal.goto(link)
            expect(portal.get_by_role("heading", level=1)).to_have_text("Join Vendor A")
            expect(portal.locator("dl.facts")).to_contain_text(APPLICANT_EMAIL)
            portal.get_by_label("Your name").fill(APPLICANT)
            portal.get_by_label(re.compile(r"^Password\W*$")).fill(OWNER_PASSWORD)
            portal.get_by_label("Password again").fill(OWNER_PASSWORD)
            portal.get_by_role("button", name="Create my account").click()
            expect(portal).to_have_url(f"{base}portal/")
            expect(portal.get_by_role("heading", level=1)).to_have_text(f"Welcome, {APPLICANT}")
            # The password works: sign out and back in.
            portal.locator("details.user-menu > summary").click()
            portal.get_by_role("button", name="Sign out").click()
            expect(portal).to_have_url(re.compile(r"/accounts/login/"))
            _sign_in(portal, f"{base}accounts/login/", APPLICANT_EMAIL, OWNER_PASSWORD)
            expect(portal).to_have_url(f"{base}portal/")
            expect(portal.get_by_role("heading", level=1)).to_have_text(f"Welcome, {APPLICANT}")
            nav = portal.get_by_role("navigation", name="Partner portal")

            # -- onboarding: nothing done yet ---------------------------------------------------
            nav.get_by_role("link", name="Onboarding").click()
            expect(portal).to_have_url(f"{base}portal/onboarding/")
            expect(portal.locator(".page-lede")).to_have_text(
                f"Work through these steps to activate {COMPANY}'s partnership with Vendor A. "
                "Your partnership becomes active by itself as soon as every required step is done."
            )
            steps = portal.locator("ol.onboarding-steps > li")
            expect(steps.locator("h3")).to_have_text(STEP_TITLES)
            expect(steps.locator(".badge-status")).to_have_text(["To do", "To do", "To do"])
            expect(portal.locator("#onboarding-progress")).to_have_attribute("value", "0")
            expect(portal.get_by_text("0 of 3 required steps done.")).to_be_visible()

            # -- the agreement -----------------------------------------------------------------
            steps.nth(0).get_by_role("link", name="Review and accept the agreement").click()
            expect(portal).to_have_url(f"{base}portal/agreement/")
            expect(portal.get_by_role("heading", level=1)).to_have_text(f"{AGREEMENT_TITLE} v1")
            expect(portal.locator(".agreement-text strong")).to_have_text("the service")
            expect(portal.get_by_text("Not accepted yet")).to_be_visible()
            expect(portal.get_by_label("Your full name")).to_have_value(APPLICANT)
            portal.get_by_label("Your job title").fill(SIGNER_TITLE)
            portal.get_by_label("I have read this agreement").check()
            portal.get_by_role("button", name="Accept version 1").click()
            expect(portal).to_have_url(f"{base}portal/agreement/")
            expect(portal.locator(".message-text")).to_have_text(
                f"Thank you: {COMPANY} accepted version 1 of the agreement. "
                "You can print a copy below."
            )
            expect(portal.locator("#status-heading + p")).to_contain_text(
                f"{COMPANY} accepted version 1 on"
            )
            expect(portal.locator("#status-heading + p")).to_contain_text(
                f"({APPLICANT}, {SIGNER_TITLE})"
            )

            # -- the billing profile ------------------------------------------------------------
            nav.get_by_role("link", name="Onboarding").click()
            expect(steps.locator(".badge-status")).to_have_text(["Done", "To do", "To do"])
            expect(portal.get_by_text("1 of 3 required steps done.")).to_be_visible()
            steps.nth(1).get_by_role("link", name="Complete the billing profile").click()
            expect(portal).to_have_url(f"{base}portal/billing-profile/")
            # Filled in from the application; only the address is missing.
            expect(portal.get_by_label("Billing email")).to_have_value(APPLICANT_EMAIL)
            expect(portal.get_by_label("Country")).to_have_value("DE")
            portal.get_by_label("Billing address").fill(BILLING_ADDRESS)
            portal.get_by_role("button", name="Save billing profile").click()
            expect(portal).to_have_url(f"{base}portal/billing-profile/")
            expect(portal.locator(".message-text")).to_have_text("Your billing profile is saved.")

            # -- clients from a CSV file with one bad row --------------------------------------
            nav.get_by_role("link", name="Onboarding").click()
            expect(steps.locator(".badge-status")).to_have_text(["Done", "Done", "To do"])
            expect(portal.get_by_text("2 of 3 required steps done.")).to_be_visible()
            expect(portal.locator("#onboarding-progress")).to_have_attribute("value", "67")
            steps.nth(2).get_by_role("link", name="Add your first client").click()
            expect(portal).to_have_url(f"{base}portal/clients/")
            expect(portal.locator("#client-summary")).to_have_text("No clients yet.")
            portal.locator(".page-actions").get_by_role("link", name="Import from CSV").click()
            expect(portal).to_have_url(f"{base}portal/clients/import/")
            portal.get_by_label("CSV file").set_input_files(
                files=[{"name": CSV_NAME, "mimeType": "text/csv", "buffer": CSV.encode()}]
            )
            portal.get_by_role("button", name="Check the file").click()
            expect(portal).to_have_url(f"{base}portal/clients/import/preview/")
            expect(portal.locator(".page-lede")).to_have_text(
                f"{CSV_NAME}: 4 rows, 3 valid, 1 with errors. Nothing is saved yet."
            )
            expect(portal.get_by_role("heading", name="This file has errors")).to_be_visible()
            expect(portal.locator("tr.row-invalid")).to_have_count(1)
            bad = portal.locator('tr[data-line="4"]')
            expect(bad).to_have_class("row-invalid")
            expect(bad.locator('td[data-label="Problems"] li')).to_have_text(
                ["Start date “2026-13-01” is not a date; use YYYY-MM-DD."]
            )
            expect(portal.locator('tr:not(.row-invalid) td[data-label="Problems"]')).to_have_text(
                ["OK", "OK", "OK"]
            )
            # A file with errors offers no "import all".
            expect(
                portal.get_by_role("button", name=re.compile(r"^Import \d+ client"))
            ).to_have_count(0)
            portal.get_by_role("button", name="Import only the 3 valid rows").click()
            expect(portal).to_have_url(f"{base}portal/clients/")
            expect(portal.locator(".message-text")).to_have_text(
                f"3 clients imported from {CSV_NAME}. 1 row with errors was left out."
            )
            expect(portal.locator("#client-summary")).to_have_text("3 clients.")
            listed = portal.locator("#client-results tbody tr")
            expect(listed).to_have_count(3)
            for external_id, name in IMPORTED.items():
                expect(listed.filter(has_text=external_id)).to_contain_text(name)
            expect(listed.filter(has_text="NW-003")).to_have_count(0)

            # -- onboarding complete, partnership active ---------------------------------------
            nav.get_by_role("link", name="Onboarding").click()
            expect(portal).to_have_url(f"{base}portal/onboarding/")
            expect(portal.locator(".page-lede")).to_have_text(
                f"{COMPANY} is an active Vendor A partner. The checklist stays here for reference."
            )
            expect(steps.locator(".badge-status")).to_have_text(["Done", "Done", "Done"])
            expect(portal.get_by_text("3 of 3 required steps done.", exact=True)).to_be_visible()
            expect(portal.locator("#onboarding-progress")).to_have_attribute("value", "100")

            # The channel manager sees it too.
            console.reload()
            expect(console.locator(".page-lede .badge")).to_have_text("Active")
        finally:
            browser.close()

    assert problems == []

    # -- what the journey left in the database -------------------------------------------------
    with schema_context(vendor_a.schema):
        application = Application.objects.get(contact_email=APPLICANT_EMAIL)
        assert application.status == ApplicationStatus.APPROVED
        assert application.reviewed_by.email == CHANNEL_MANAGER
        partners = list(Partner.objects.filter(billing_email=APPLICANT_EMAIL))
        assert [p.pk for p in partners] == [application.partner_id]
        partner = partners[0]
        assert (partner.name, partner.status, partner.country) == (
            COMPANY,
            PartnerStatus.ACTIVE,
            "DE",
        )
        assert partner.track.name == TRACK
        assert partner.tier.name == TIER
        # Browsers submit a textarea's line breaks as CRLF (HTML spec); stored as submitted.
        assert partner.billing_address == BILLING_ADDRESS  # CRLF from the browser normalised
        owner = User.objects.get(email=APPLICANT_EMAIL)
        assert (owner.full_name, owner.vendor_role) == (APPLICANT, "")
        memberships = list(PartnerMembership.objects.filter(user=owner))
        assert [(m.partner_id, m.role) for m in memberships] == [(partner.pk, PartnerRole.OWNER)]
        assert PartnerMembership.objects.filter(partner=partner).count() == 1
        invitation = Invitation.objects.get(email=APPLICANT_EMAIL)
        assert invitation.accepted_at is not None
        version = AgreementVersion.objects.get(track=partner.track)
        acceptances = list(AgreementAcceptance.objects.filter(partner=partner))
        assert len(acceptances) == 1
        acceptance = acceptances[0]
        assert (
            acceptance.agreement_id,
            acceptance.user_id,
            acceptance.signer_name,
            acceptance.signer_title,
            acceptance.signer_email,
            acceptance.content_hash,
        ) == (version.pk, owner.pk, APPLICANT, SIGNER_TITLE, APPLICANT_EMAIL, version.content_hash)
        assert acceptance.ip == "127.0.0.1"
        clients = dict(Client.objects.filter(partner=partner).values_list("external_id", "name"))
        assert clients == IMPORTED
        assert dict(
            Client.objects.filter(partner=partner).values_list("external_id", "status")
        ) == {"NW-001": "active", "NW-002": "trial", "NW-004": "nfr"}
