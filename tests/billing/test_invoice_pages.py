"""Console and portal invoice pages: the console list (filters, HTMX partial, paging, constant
queries), an invoice (lines per client with subtotals, tier breakdown, totals, credit notes), the
credit-note form (finance and admins only), CSV exports and PDFs; the portal shows a partner its
own invoices of rated periods only (others' are 404 and nothing changes)."""

from __future__ import annotations

import csv
import io
import re
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import schema_context

from accounts.enums import VendorRole
from accounts.models import User
from billing.models import CreditNote, CreditNoteLine, Invoice, InvoiceLine
from billing.services.credit_notes import credit_note_create
from core.actors import Actor
from core.models import AuditEntry
from tests.factories import ClientFactory, PartnerFactory
from tests.partners.clients_support import body, portal_as, signed_in

from .invoice_fixtures import InvoiceWorld, build_invoice_world, make_invoice, run_deferred_checks

pytestmark = pytest.mark.django_db

LIST = "/console/invoices/"
PORTAL = "/portal/invoices/"


@pytest.fixture(autouse=True)
def _deferred_checks(vendor_a):
    yield
    run_deferred_checks(vendor_a)


@pytest.fixture
def world(vendor_a) -> InvoiceWorld:
    return build_invoice_world(vendor_a)


def staff(w: InvoiceWorld, role: str):
    with w.schema():
        user = User.objects.create_user(
            f"{role}-invoices@vendor-a.example", "x" * 12, vendor_role=role
        )
    return signed_in(w.tv, user)


def listed(html: str) -> list[str]:
    """The invoice cell of each row ("INV-000901" or "Draft")."""
    return re.findall(
        r'<td data-label="Invoice"><a href="[^"]+">(?:<span class="mono">)?([^<]+)', html
    )


def partners_listed(html: str) -> list[str]:
    return re.findall(r'<td data-label="Partner">([^<]+)</td>', html)


def state(w: InvoiceWorld) -> dict:
    with w.schema():
        return {
            "invoices": list(Invoice.objects.order_by("pk").values()),
            "lines": list(InvoiceLine.objects.order_by("pk").values()),
            "credit_notes": list(CreditNote.objects.order_by("pk").values()),
            "credit_lines": list(CreditNoteLine.objects.order_by("pk").values()),
            "audit": AuditEntry.objects.count(),
        }


def rows_of(csv_text: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(csv_text.removeprefix("\ufeff"))))


# --- console: the list -------------------------------------------------------------------------


@pytest.mark.parametrize("role", [VendorRole.ADMIN, VendorRole.FINANCE, VendorRole.ANALYST])
def test_every_console_role_lists_every_invoice(world, role):
    html = staff(world, role).get(LIST).content.decode()
    assert listed(html) == ["Draft", "Draft", "Draft", "INV-000901"]
    # Newest month first, then partner name.
    assert partners_listed(html) == ["Alpha IT", "Alpha IT", "Bravo Systems", "Alpha IT"]
    assert "4 invoices." in html
    assert "€164.23" in html and "€198.14" in html and "€60.00" in html


def test_filters_by_month_status_and_partner(world):
    admin = staff(world, VendorRole.ADMIN)

    def invoices(**params) -> list[tuple[str, str]]:
        html = admin.get(LIST, params).content.decode()
        return list(zip(listed(html), partners_listed(html), strict=True))

    assert invoices(month="2026-10") == [("Draft", "Alpha IT"), ("Draft", "Bravo Systems")]
    assert invoices(status="open") == [("INV-000901", "Alpha IT")]
    assert invoices(partner=world.bravo.pk) == [("Draft", "Bravo Systems")]
    assert invoices(partner=world.alpha.pk, status="draft", month="2026-11") == [
        ("Draft", "Alpha IT")
    ]
    html = admin.get(LIST, {"month": "2030-01"}).content.decode()
    assert "Select a valid choice" in html
    options = re.search(r'<select name="month"[^>]*>(.*?)</select>', html, re.S).group(1)
    assert re.findall(r">([^<]+)</option>", options) == [
        "Any month",
        "November 2026",
        "October 2026",
        "September 2026",
    ]


def test_htmx_gets_the_results_only_with_the_export_link(world):
    admin = staff(world, VendorRole.ADMIN)
    response = admin.get(LIST, {"status": "open"}, HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert "<form" not in html
    assert listed(html) == ["INV-000901"]
    assert 'hx-swap-oob="true" href="/console/invoices/export.csv?status=open"' in html
    assert "HX-Request" in response["Vary"]


def test_list_pages_and_its_query_count_does_not_grow(world):
    admin = staff(world, VendorRole.ADMIN)

    def count() -> tuple[int, str]:
        with CaptureQueriesContext(connection) as queries:
            response = admin.get(LIST)
            assert response.status_code == 200
        return len(queries), response.content.decode()

    count()
    before, _ = count()
    with world.schema():
        for n in range(60):
            partner = PartnerFactory(name=f"Zulu {n:02d}")
            client = ClientFactory(partner=partner)
            make_invoice(
                partner=partner,
                month="2026-08",
                lines=[{"client": client, "amount": Decimal("1.00")}] * 2,
            )
    count()  # warm again: creating the rows may outlast the 5 s host-routing cache
    after, html = count()
    assert after == before
    assert "Invoices 1–50 of 64" in html
    page_two = admin.get(LIST, {"page": 2}).content.decode()
    assert len(listed(page_two)) == 14


def test_partner_users_cannot_open_console_invoices(world):
    user = portal_as(world.tv, world.alpha)
    for url in (LIST, f"{LIST}{world.september.pk}/", f"{LIST}{world.september.pk}/pdf/"):
        assert user.get(url).status_code == 403, url


# --- console: one invoice ----------------------------------------------------------------------


def test_invoice_page_groups_lines_by_client(world):
    html = staff(world, VendorRole.ANALYST).get(f"{LIST}{world.october.pk}/").content.decode()
    groups = re.findall(r'<th scope="rowgroup" colspan="6">([^<]+) <span', html)
    assert groups == ["Kiwi GmbH", "Lime AG"]
    kiwi = html[html.index(f'data-client="{world.kiwi.pk}"') :]
    kiwi = kiwi[: kiwi.index("</tbody>")]
    assert "Prior-period adjustment · September 2026" in kiwi
    assert re.findall(r'data-label="Net" class="num">(?:<strong>)?([^<]+)<', kiwi) == [
        "€90.00",
        "-€4.50",
        "€85.50",
    ]
    assert "Subtotal Kiwi GmbH" in kiwi
    assert "10.483871" in kiwi and "€9.538461" in kiwi
    for text in ("€185.00", "−€18.50", "€166.50", "Tax (19.00 %)", "€31.64", "€198.14"):
        assert text in html, text
    assert "Issue credit note" not in html  # a draft
    assert "A draft: re-rating the period replaces it" in html


def test_tier_breakdown_and_credit_notes_on_the_page(world):
    with world.schema():
        credit_note_create(
            invoice=world.september,
            reason="Backup outage",
            amount=Decimal("10.00"),
            actor=Actor.system("tests"),
        )
    html = staff(world, VendorRole.FINANCE).get(f"{LIST}{world.september.pk}/").content.decode()
    assert "<summary>Tier breakdown</summary>" in html
    assert "<td>500</td><td>and above</td>" in html
    assert "Backup outage" in html
    assert "Balance after credit notes" in html and "€152.33" in html
    assert f'href="/console/invoices/{world.september.pk}/credit-notes/new/"' in html
    assert f'href="/console/invoices/{world.september.pk}/pdf/"' in html


def test_console_csv_exports(world):
    admin = staff(world, VendorRole.ANALYST)
    one = admin.get(f"{LIST}{world.september.pk}/lines.csv")
    assert one["Content-Type"] == "text/csv; charset=utf-8"
    assert one["Content-Disposition"] == 'attachment; filename="INV-000901-alpha-it-lines.csv"'
    rows = rows_of(body(one))
    assert [
        (r["invoice_number"], r["client"], r["quantity"], r["amount"], r["net_amount"])
        for r in rows
    ] == [
        ("INV-000901", "Kiwi GmbH", "40", "120.00", "108.00"),
        ("INV-000901", "Lime AG", "667", "33.35", "30.01"),
    ]
    assert rows[1]["meter"] == "backup-gb" and rows[1]["pooled"] == "yes"
    filtered = rows_of(body(admin.get(f"{LIST}export.csv", {"month": "2026-10"})))
    assert [
        (r["partner"], r["description"], r["amount"], r["adjustment_of"]) for r in filtered
    ] == [
        ("Alpha IT", "Backup Pro: seats (average)", "90.00", ""),
        ("Alpha IT", "Backup Pro: seats (average)", "100.00", ""),
        ("Alpha IT", "Backup Pro: Backup Gb (GB)", "-5.00", "2026-09"),
        ("Bravo Systems", "Seats", "50.00", ""),
    ]


def test_console_pdf(world):
    response = staff(world, VendorRole.ANALYST).get(f"{LIST}{world.october.pk}/pdf/")
    assert response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF-")


# --- console: the credit-note form -------------------------------------------------------------


def test_finance_credits_chosen_lines(world):
    w = world
    finance = staff(w, VendorRole.FINANCE)
    url = f"{LIST}{w.september.pk}/credit-notes/new/"
    html = finance.get(url).content.decode()
    with w.schema():
        kiwi_line, lime_line = w.september.lines.order_by("position")
    assert f'name="line_{kiwi_line.pk}"' in html and f'name="line_{lime_line.pk}"' in html
    assert "At most €138.01 is left." in html
    response = finance.post(
        url,
        {"reason": "Outage", "mode": "lines", f"line_{kiwi_line.pk}": "8.00"},
        follow=True,
    )
    assert response.redirect_chain == [(f"{LIST}{w.september.pk}/", 302)]
    with w.schema():
        note = CreditNote.objects.get()
        assert (note.subtotal, note.tax, note.total, note.reason) == (
            Decimal("8.00"),
            Decimal("1.52"),
            Decimal("9.52"),
            "Outage",
        )
        assert list(note.lines.values_list("invoice_line", "amount")) == [
            (kiwi_line.pk, Decimal("8.00"))
        ]
        assert AuditEntry.objects.get(action="credit_note.created").actor_label == (
            "finance-invoices@vendor-a.example"
        )
    assert f"Credit note {note.number} issued: €9.52 credited on INV-000901." in (
        response.content.decode()
    )


def test_the_form_shows_what_the_service_refuses(world):
    w = world
    finance = staff(w, VendorRole.ADMIN)
    url = f"{LIST}{w.september.pk}/credit-notes/new/"
    with w.schema():
        kiwi_line = w.september.lines.get(position=1)
    before = state(w)
    html = finance.post(
        url, {"reason": "Outage", "mode": "lines", f"line_{kiwi_line.pk}": "108.01"}
    ).content.decode()
    assert "At most €108.00 is left to credit on line 1" in html
    html = finance.post(
        url, {"reason": "Outage", "mode": "amount", "amount": "500"}
    ).content.decode()
    assert "At most €138.01 before tax is left to credit on invoice INV-000901" in html
    html = finance.post(url, {"reason": "Outage", "mode": "amount"}).content.decode()
    assert "Enter the amount to credit." in html
    html = finance.post(url, {"reason": "", "mode": "lines"}).content.decode()
    assert "Enter an amount for at least one line." in html
    assert state(w) == before


@pytest.mark.parametrize(
    "role", [VendorRole.ANALYST, VendorRole.CHANNEL_MANAGER, VendorRole.SUPPORT]
)
def test_other_roles_cannot_issue_credit_notes(world, role):
    user = staff(world, role)
    url = f"{LIST}{world.september.pk}/credit-notes/new/"
    before = state(world)
    assert user.get(url).status_code == 403
    assert user.post(url, {"reason": "x", "mode": "amount", "amount": "1"}).status_code == 403
    assert "Issue credit note" not in user.get(f"{LIST}{world.september.pk}/").content.decode()
    assert state(world) == before


def test_a_draft_cannot_be_credited_from_the_form(world):
    admin = staff(world, VendorRole.ADMIN)
    url = f"{LIST}{world.october.pk}/credit-notes/new/"
    before = state(world)
    assert "This invoice is still a draft" in admin.get(url).content.decode()
    html = admin.post(url, {"reason": "x", "mode": "amount", "amount": "1"}).content.decode()
    assert "This invoice is still a draft" in html
    assert state(world) == before


# --- portal ------------------------------------------------------------------------------------


def test_portal_lists_own_invoices_of_rated_periods(world):
    html = portal_as(world.tv, world.alpha, "viewer").get(PORTAL).content.decode()
    assert listed(html) == ["Draft — in review", "INV-000901"]
    assert "2 invoices." in html
    assert "Bravo" not in html and "€60.00" not in html
    # No invoice of the period being rated (the page's estimate card names the month itself).
    assert "November 2026" not in html.split('id="invoice-results"')[1]


def test_portal_invoice_page_and_documents(world):
    user = portal_as(world.tv, world.alpha, "technician")
    html = user.get(f"{PORTAL}{world.october.pk}/").content.decode()
    assert "Draft — in review" in html
    assert re.findall(r'<th scope="rowgroup" colspan="6">([^<]+) <span', html) == [
        "Kiwi GmbH",
        "Lime AG",
    ]
    assert "€198.14" in html
    pdf = user.get(f"{PORTAL}{world.september.pk}/pdf/")
    assert (pdf.status_code, pdf["Content-Type"]) == (200, "application/pdf")
    rows = rows_of(body(user.get(f"{PORTAL}{world.october.pk}/lines.csv")))
    assert [r["amount"] for r in rows] == ["90.00", "100.00", "-5.00"]
    everything = rows_of(body(user.get(f"{PORTAL}export.csv")))
    assert sorted({r["invoice_id"] for r in everything}) == sorted(
        {str(world.september.pk), str(world.october.pk)}
    )


def test_portal_others_invoices_and_unrated_drafts_are_404(world):
    user = portal_as(world.tv, world.alpha, "owner")
    before = state(world)
    for invoice in (world.bravo_october, world.november):
        for suffix in ("", "pdf/", "lines.csv"):
            url = f"{PORTAL}{invoice.pk}/{suffix}"
            assert user.get(url).status_code == 404, url
    assert state(world) == before


def test_portal_is_for_partner_users(world):
    assert staff(world, VendorRole.ADMIN).get(PORTAL).status_code == 403
    with world.schema():
        lone = User.objects.create_user("lone@example.com", "x" * 12)
    assert signed_in(world.tv, lone).get(PORTAL).status_code == 403
    html = portal_as(world.tv, world.bravo, "billing").get(PORTAL).content.decode()
    assert listed(html) == ["Draft — in review"]


def test_portal_list_query_count_does_not_grow(world):
    user = portal_as(world.tv, world.alpha, "viewer")

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert user.get(PORTAL).status_code == 200
        return len(queries)

    count()
    before = count()
    with schema_context(world.tv.schema):
        for n in range(5):
            make_invoice(
                partner=world.alpha,
                month=f"2025-0{n + 1}",
                finalized=True,
                number=f"INV-0008{n:02d}",
                lines=[{"client": world.kiwi, "amount": Decimal("2.00")}] * 2,
            )
    count()  # warm again: creating the rows may outlast the 5 s host-routing cache
    assert count() == before


def test_the_read_pages_only_answer_safe_methods(world):
    before = state(world)
    admin = staff(world, VendorRole.ADMIN)
    owner = portal_as(world.tv, world.alpha, "owner")
    for client, url in (
        (admin, LIST),
        (admin, f"{LIST}{world.september.pk}/"),
        (owner, PORTAL),
        (owner, f"{PORTAL}{world.september.pk}/"),
    ):
        assert client.post(url, {"status": "void"}).status_code == 405, url
        assert client.head(url).status_code == 200, url
    assert state(world) == before
