"""The invoice PDF: a real PDF (read back with pypdf) that says what the invoice rows say — vendor,
bill-to, number or DRAFT, month, lines per client with their figures and subtotals, prior-period
adjustments labelled, tier breakdowns, totals with the tax rate, credit notes and the balance."""

from __future__ import annotations

import io
import re
from decimal import Decimal

import pytest
from pypdf import PdfReader

from billing.invoice_format import quantity_text, unit_price_text
from billing.pdf import invoice_pdf
from billing.selectors_invoices import invoice_document
from billing.services.credit_notes import credit_note_create
from core.actors import Actor
from tests.factories import ClientFactory

from .invoice_fixtures import InvoiceWorld, build_invoice_world, make_invoice, run_deferred_checks

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _deferred_checks(vendor_a):
    yield
    run_deferred_checks(vendor_a)


@pytest.fixture
def world(vendor_a) -> InvoiceWorld:
    return build_invoice_world(vendor_a)


def text_of(content: bytes) -> str:
    assert content.startswith(b"%PDF-")
    reader = PdfReader(io.BytesIO(content))
    text = "\n".join(page.extract_text() for page in reader.pages)
    return re.sub(r"\s+", " ", text)


def render(w: InvoiceWorld, invoice) -> str:
    with w.schema():
        return text_of(invoice_pdf(invoice_document(invoice), vendor_name="Vendor A"))


def test_a_finalized_invoice_with_credit_notes(world):
    w = world
    with w.schema():
        kiwi_line = w.september.lines.get(position=1)
        credit_note_create(
            invoice=w.september,
            reason="Backup outage",
            lines=[{"invoice_line": kiwi_line.pk, "amount": Decimal("10.00")}],
            actor=Actor.system("tests"),
        )
    text = render(w, w.september)
    for expected in [
        "Vendor A",
        "Invoice",
        "INV-000901",
        "Alpha IT",
        "Hauptstraße 1",
        "billing@alpha.example",
        "September 2026",
        "1 October 2026",
        "Gold (10.00 % discount)",
        # Kiwi's seats, then Lime's pooled backup with its tiers, each client with a subtotal
        "Kiwi GmbH (KIWI-1)",
        "Backup Pro: seats (average) 40 €3.00 €120.00 €12.00 €108.00",
        "Subtotal Kiwi GmbH €120.00 €12.00 €108.00",
        "Lime AG (LIME-1)",
        "Pooled tiers: counted over all your clients.",
        "Tiers: 0–500: 500 × €0.05; over 500: 167 × €0.05",
        "667 €0.05 €33.35 €3.34 €30.01",
        "Subtotal €153.35",
        "Discount (Gold, 10.00 %) -€15.34",
        "Net €138.01",
        "Tax (19.00 %) €26.22",
        "Total EUR €164.23",
        "Credit notes",
        "Backup outage €10.00 €1.90 €11.90",
        "Credited €11.90",
        "Balance after credit notes €152.33",
    ]:
        assert expected in text, expected
    assert "DRAFT" not in text
    assert text.index("Kiwi GmbH") < text.index("Lime AG")


def test_a_draft_is_marked_and_labels_prior_period_adjustments(world):
    text = render(world, world.october)
    assert "Draft invoice" in text
    assert "DRAFT — not yet issued" in text
    assert "Not yet issued (draft)" in text
    assert "DRAFT" in text.replace("DRAFT —", "")  # the watermark, besides the label
    assert "Prior-period adjustment for September 2026" in text
    assert "-100 €0.05 -€5.00 -€0.50 -€4.50" in text
    assert "10.483871 €9.538461 €100.00 €10.00 €90.00" in text
    assert "Total EUR €198.14" in text
    assert "Credit notes" not in text


def test_many_lines_flow_over_pages_and_odd_names_render(world):
    w = world
    with w.schema():
        clients = [
            ClientFactory(partner=w.bravo, name=f"Łódź Client {n:02d}", external_id=f"PL-{n:02d}")
            for n in range(40)
        ]
        invoice = make_invoice(
            partner=w.bravo,
            month="2026-11",
            finalized=True,
            number="INV-000950",
            lines=[{"client": c, "amount": Decimal("1.25")} for c in clients for _ in range(2)],
        )
    content = None
    with w.schema():
        content = invoice_pdf(invoice_document(invoice), vendor_name="Vendor A")
    reader = PdfReader(io.BytesIO(content))
    assert len(reader.pages) >= 3
    text = text_of(content)
    assert "Total EUR €120.00" in text  # 80 × 1.25 = 100.00 + 20 % tax
    assert "Page 3" in text


def test_same_invoice_same_bytes(world):
    with world.schema():
        document = invoice_document(world.september)
        assert invoice_pdf(document, vendor_name="V") == invoice_pdf(document, vendor_name="V")


def test_formatting_helpers():
    assert unit_price_text(Decimal("0.012500"), "EUR") == "€0.0125"
    assert unit_price_text(Decimal("3"), "EUR") == "€3.00"
    assert unit_price_text(Decimal("1250"), "JPY") == "¥1,250"
    assert quantity_text(Decimal("1500.000000")) == "1,500"
    assert quantity_text(Decimal("10.483871")) == "10.483871"
