"""The invoice as a PDF document (A4), drawn with ReportLab (pure Python, from PyPI alone).

The document shows exactly what the invoice rows say — figures are never recomputed here: the
vendor, the bill-to snapshot, the number (or a DRAFT mark on every page), the month and issue
date, the lines grouped per client with quantity, effective unit price, amount, tier discount and
net (prior-period adjustments labelled, tier breakdowns in small print), the client subtotals, the
invoice totals (subtotal, discount, tax with its rate, total), and the credit notes issued
against it with the balance they leave.

Text is set in DejaVu Sans when the system has it (most Linux systems do: it covers the names of
clients all over the world), otherwise in the PDF standard Helvetica.
"""

from __future__ import annotations

import io
import os
from decimal import Decimal
from xml.sax.saxutils import escape

from django.utils.text import slugify
from reportlab.lib import colors
from reportlab.lib.enums import TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import (
    KeepTogether,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from billing.invoice_format import money, month_label, quantity_text, unit_price_text
from billing.models import Invoice
from billing.selectors_invoices import InvoiceDocument

_FONT_DIRS = ("/usr/share/fonts/truetype/dejavu", "/usr/share/fonts/dejavu")
_FONTS: tuple[str, str] | None = None

INK = colors.HexColor("#1f2937")
MUTED = colors.HexColor("#6b7280")
RULE = colors.HexColor("#d1d5db")
SHADE = colors.HexColor("#f3f4f6")


def _fonts() -> tuple[str, str]:
    """(regular, bold) font names: DejaVu Sans if installed, else Helvetica."""
    global _FONTS
    if _FONTS is None:
        _FONTS = ("Helvetica", "Helvetica-Bold")
        for folder in _FONT_DIRS:
            regular = os.path.join(folder, "DejaVuSans.ttf")
            bold = os.path.join(folder, "DejaVuSans-Bold.ttf")
            if os.path.exists(regular) and os.path.exists(bold):
                try:
                    pdfmetrics.registerFont(TTFont("InvoiceSans", regular))
                    pdfmetrics.registerFont(TTFont("InvoiceSans-Bold", bold))
                except Exception:  # noqa: S112 - an unreadable font: use Helvetica
                    continue
                _FONTS = ("InvoiceSans", "InvoiceSans-Bold")
                break
    return _FONTS


# --- formatting --------------------------------------------------------------------------------


def pdf_filename(invoice: Invoice) -> str:
    partner = slugify(invoice.bill_to_name) or "partner"
    name = invoice.number or f"draft-{invoice.period.month:%Y-%m}"
    return f"{name}-{partner}.pdf"


def _tier_summary(tiers: list[dict], currency: str) -> str:
    parts = []
    for tier in tiers:
        try:
            start = tier.get("from", 0)
            up_to = tier.get("up_to")
            units = Decimal(str(tier.get("units", "0")))
            price = Decimal(str(tier.get("unit_price", "0")))
            fee = Decimal(str(tier.get("flat_fee", "0")))
        except (ArithmeticError, AttributeError, ValueError):
            continue
        band = f"{start:,}–{up_to:,}" if up_to is not None else f"over {start:,}"
        text = f"{band}: {quantity_text(units)} × {unit_price_text(price, currency)}"
        if fee:
            text += f" + {unit_price_text(fee, currency)}"
        parts.append(text)
    return "; ".join(parts)


# --- the document ------------------------------------------------------------------------------


class _Styles:
    def __init__(self) -> None:
        regular, bold = _fonts()
        self.regular, self.bold = regular, bold
        base = {"fontName": regular, "textColor": INK, "fontSize": 9, "leading": 11.5}
        self.body = ParagraphStyle("body", **base)
        self.small = ParagraphStyle("small", **{**base, "fontSize": 7.5, "leading": 9.5})
        self.muted = ParagraphStyle("muted", parent=self.small, textColor=MUTED)
        self.strong = ParagraphStyle("strong", parent=self.body, fontName=bold)
        self.right = ParagraphStyle("right", parent=self.body, alignment=TA_RIGHT)
        self.right_strong = ParagraphStyle("right_strong", parent=self.right, fontName=bold)
        self.vendor = ParagraphStyle(
            "vendor", parent=self.body, fontName=bold, fontSize=15, leading=19
        )
        self.title = ParagraphStyle(
            "title", parent=self.right, fontName=bold, fontSize=18, leading=22
        )
        self.heading = ParagraphStyle(
            "heading", parent=self.body, fontName=bold, fontSize=11, leading=14, spaceBefore=6
        )
        self.label = ParagraphStyle("label", parent=self.small, textColor=MUTED)


def _p(text: str, style: ParagraphStyle) -> Paragraph:
    return Paragraph(escape(text).replace("\n", "<br/>"), style)


def _header(doc: InvoiceDocument, vendor_name: str, s: _Styles) -> list:
    invoice = doc.invoice
    title = "Invoice" if invoice.number else "Draft invoice"
    number = invoice.number or "DRAFT — not yet issued"
    head = Table(
        [[_p(vendor_name or "Invoice", s.vendor), _p(title, s.title)], ["", _p(number, s.right)]],
        colWidths=["55%", "45%"],
    )
    head.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LEFTPADDING", (0, 0), (-1, -1), 0),
                ("RIGHTPADDING", (0, 0), (-1, -1), 0),
            ]
        )
    )
    bill_to = [_p("Bill to", s.label), _p(invoice.bill_to_name, s.strong)]
    if invoice.bill_to_address:
        bill_to.append(_p(invoice.bill_to_address, s.body))
    if invoice.bill_to_country:
        bill_to.append(_p(invoice.bill_to_country, s.body))
    if invoice.bill_to_email:
        bill_to.append(_p(invoice.bill_to_email, s.body))
    issued = (
        f"{invoice.issued_on:%d %B %Y}".lstrip("0")
        if invoice.issued_on
        else "Not yet issued (draft)"
    )
    facts = [
        ("Invoice number", invoice.number or "DRAFT"),
        ("Billing month", month_label(invoice.period.month)),
        ("Issue date", issued),
        ("Status", invoice.get_status_display()),
        ("Currency", invoice.currency),
    ]
    if invoice.tier_name:
        facts.append(("Tier", f"{invoice.tier_name} ({invoice.discount_pct} % discount)"))
    fact_rows = [[_p(label, s.label), _p(value, s.body)] for label, value in facts]
    fact_table = Table(fact_rows, colWidths=[28 * mm, 52 * mm])
    fact_table.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LEFTPADDING", (0, 0), (-1, -1), 0),
                ("TOPPADDING", (0, 0), (-1, -1), 1),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 1),
            ]
        )
    )
    parties = Table([[bill_to, fact_table]], colWidths=["55%", "45%"])
    parties.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LEFTPADDING", (0, 0), (-1, -1), 0),
                ("RIGHTPADDING", (0, 0), (-1, -1), 0),
            ]
        )
    )
    return [head, Spacer(1, 8 * mm), parties, Spacer(1, 8 * mm)]


def _lines_table(doc: InvoiceDocument, width: float, s: _Styles) -> list:
    invoice = doc.invoice
    currency = invoice.currency
    header = ["Description", "Quantity", "Unit price", "Amount", "Discount", "Net"]
    rows: list[list] = [[_p(text, s.label) for text in header]]
    style: list[tuple] = [
        ("LINEBELOW", (0, 0), (-1, 0), 0.6, INK),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("ALIGN", (1, 0), (-1, -1), "RIGHT"),
        ("TOPPADDING", (0, 0), (-1, -1), 3),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
        ("LEFTPADDING", (0, 0), (-1, -1), 3),
        ("RIGHTPADDING", (0, 0), (-1, -1), 3),
    ]
    if not doc.groups:
        rows.append([_p("No billable usage or seats this month.", s.body), "", "", "", "", ""])
        style.append(("SPAN", (0, 1), (-1, 1)))
    for group in doc.groups:
        index = len(rows)
        client = f"{group.name} ({group.external_id})" if group.external_id else group.name
        rows.append([_p(client, s.strong), "", "", "", "", ""])
        style += [("SPAN", (0, index), (-1, index)), ("BACKGROUND", (0, index), (-1, index), SHADE)]
        for line in group.lines:
            parts = [_p(line.description, s.body)]
            if line.adjustment_of:
                parts.insert(
                    0,
                    _p(f"Prior-period adjustment for {month_label(line.adjustment_of)}", s.muted),
                )
            if line.pooled:
                parts.append(_p("Pooled tiers: counted over all your clients.", s.muted))
            if line.tiers:
                summary = _tier_summary(line.tiers, currency)
                if summary:
                    parts.append(_p(f"Tiers: {summary}", s.muted))
            rows.append(
                [
                    parts,
                    _p(quantity_text(line.quantity), s.right),
                    _p(unit_price_text(line.unit_price, currency), s.right),
                    _p(money(line.amount, currency), s.right),
                    _p(money(line.discount, currency), s.right),
                    _p(money(line.net_amount, currency), s.right),
                ]
            )
        index = len(rows)
        rows.append(
            [
                _p(f"Subtotal {group.name}", s.strong),
                "",
                "",
                _p(money(group.amount, currency), s.right_strong),
                _p(money(group.discount, currency), s.right_strong),
                _p(money(group.net_amount, currency), s.right_strong),
            ]
        )
        style += [
            ("SPAN", (0, index), (2, index)),
            ("LINEABOVE", (0, index), (-1, index), 0.3, RULE),
        ]
    numbers = 0.13 * width
    table = Table(
        rows,
        colWidths=[width - 5 * numbers, numbers, numbers, numbers, numbers, numbers],
        repeatRows=1,
    )
    table.setStyle(TableStyle(style))
    return [table, Spacer(1, 6 * mm)]


def _totals(doc: InvoiceDocument, width: float, s: _Styles) -> list:
    invoice = doc.invoice
    currency = invoice.currency
    discount_label = "Discount"
    if invoice.tier_name:
        discount_label = f"Discount ({invoice.tier_name}, {invoice.discount_pct} %)"
    elif invoice.discount_pct:
        discount_label = f"Discount ({invoice.discount_pct} %)"
    rows = [
        ("Subtotal", money(invoice.subtotal, currency)),
        (discount_label, money(-invoice.discount, currency)),
        ("Net", money(doc.net, currency)),
        (f"Tax ({invoice.tax_rate} %)", money(invoice.tax, currency)),
        # Credits given at finalize (commission payouts), each named in its own row.
        *((line.description, money(-line.amount, currency)) for line in doc.credit_lines),
        (f"Total {currency}", money(invoice.total, currency)),
    ]
    data = [
        [
            _p(label, s.strong if i == len(rows) - 1 else s.body),
            _p(value, s.right_strong if i == len(rows) - 1 else s.right),
        ]
        for i, (label, value) in enumerate(rows)
    ]
    table = Table(data, colWidths=[0.3 * width, 0.18 * width], hAlign="RIGHT")
    table.setStyle(
        TableStyle(
            [
                ("LINEABOVE", (0, len(rows) - 1), (-1, len(rows) - 1), 0.8, INK),
                ("TOPPADDING", (0, 0), (-1, -1), 2),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
            ]
        )
    )
    return [KeepTogether([table]), Spacer(1, 6 * mm)]


def _credit_notes(doc: InvoiceDocument, width: float, s: _Styles) -> list:
    if not doc.credit_notes:
        return []
    currency = doc.invoice.currency
    rows: list[list] = [
        [
            _p(text, s.label)
            for text in ("Credit note", "Date", "Reason", "Before tax", "Tax", "Total")
        ]
    ]
    for note in doc.credit_notes:
        rows.append(
            [
                _p(note.number, s.body),
                _p(f"{note.created_at:%Y-%m-%d}", s.body),
                _p(note.reason, s.body),
                _p(money(note.subtotal, currency), s.right),
                _p(money(note.tax, currency), s.right),
                _p(money(note.total, currency), s.right),
            ]
        )
    rows.append(
        [
            _p("Credited", s.strong),
            "",
            "",
            "",
            "",
            _p(money(doc.credited, currency), s.right_strong),
        ]
    )
    rows.append(
        [
            _p("Balance after credit notes", s.strong),
            "",
            "",
            "",
            "",
            _p(money(doc.balance, currency), s.right_strong),
        ]
    )
    last = len(rows) - 1
    column = 0.13 * width
    table = Table(
        rows,
        colWidths=[0.16 * width, 0.13 * width, width - 0.29 * width - 3 * column] + [column] * 3,
        repeatRows=1,
    )
    table.setStyle(
        TableStyle(
            [
                ("LINEBELOW", (0, 0), (-1, 0), 0.6, INK),
                ("LINEABOVE", (0, last - 1), (-1, last - 1), 0.3, RULE),
                ("SPAN", (0, last - 1), (4, last - 1)),
                ("SPAN", (0, last), (4, last)),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("TOPPADDING", (0, 0), (-1, -1), 3),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
            ]
        )
    )
    return [_p("Credit notes", s.heading), Spacer(1, 2 * mm), table]


def invoice_pdf(doc: InvoiceDocument, *, vendor_name: str) -> bytes:
    """The invoice of `doc` (from `billing.selectors_invoices.invoice_document`) as PDF bytes."""
    invoice = doc.invoice
    s = _Styles()
    buffer = io.BytesIO()
    title = invoice.number or f"Draft invoice {invoice.period.month:%Y-%m}"
    template = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=16 * mm,
        rightMargin=16 * mm,
        topMargin=16 * mm,
        bottomMargin=18 * mm,
        title=f"{title} — {invoice.bill_to_name}",
        author=vendor_name,
        subject=f"Invoice for {month_label(invoice.period.month)}",
        creator="MSP Program",
        invariant=True,  # the same invoice renders to the same bytes
    )
    width = template.width
    story = _header(doc, vendor_name, s)
    story += _lines_table(doc, width, s)
    story += _totals(doc, width, s)
    story += _credit_notes(doc, width, s)
    footer = f"{vendor_name} · {invoice.number or 'Draft'} · {invoice.bill_to_name}"

    def decorate(canvas, _template) -> None:
        canvas.saveState()
        if not invoice.number:
            canvas.setFillColor(colors.Color(0.85, 0.1, 0.1, alpha=0.12))
            canvas.setFont(s.bold, 96)
            canvas.translate(A4[0] / 2, A4[1] / 2)
            canvas.rotate(45)
            canvas.drawCentredString(0, -30, "DRAFT")
            canvas.rotate(-45)
            canvas.translate(-A4[0] / 2, -A4[1] / 2)
        canvas.setFillColor(MUTED)
        canvas.setFont(s.regular, 7.5)
        canvas.drawString(16 * mm, 10 * mm, footer)
        canvas.drawRightString(A4[0] - 16 * mm, 10 * mm, f"Page {canvas.getPageNumber()}")
        canvas.restoreState()

    template.build(story, onFirstPage=decorate, onLaterPages=decorate)
    return buffer.getvalue()
