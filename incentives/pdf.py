"""A commission statement as a PDF (A4, ReportLab, in the invoice PDF's house style): the partner
and month, the figures (opening, commission, bonuses, clawbacks, adjustments, held, payout,
carried forward), each entry by kind with each accrual's invoice lines and clients, the disputes
and the payout. Figures are read from the rows, never recomputed here."""

from __future__ import annotations

import io

from django.utils.text import slugify
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.platypus import SimpleDocTemplate, Spacer, Table, TableStyle

from billing.invoice_format import money, month_label
from billing.pdf import INK, MUTED, RULE, SHADE, _p, _Styles

from .models import Statement
from .selectors import StatementDocument

__all__ = ["statement_pdf", "statement_pdf_filename"]


def statement_pdf_filename(statement: Statement) -> str:
    return f"statement-{statement.month:%Y-%m}-{slugify(statement.partner.name) or 'partner'}.pdf"


def _figures(doc: StatementDocument, width: float, s: _Styles) -> list:
    st = doc.statement
    c = st.currency
    rows = [
        ("Opening balance", st.opening_balance),
        ("Commission", st.accrued),
        ("Bonuses", st.bonuses),
        ("Clawbacks", st.clawbacks),
        ("Adjustments", st.adjustments),
        ("Held (open disputes)", -st.held),
        ("Payable" if st.status == "draft" else "Paid out", st.payable),
        ("Carried forward", st.carried_forward),
    ]
    data = [[_p(label, s.body), _p(money(value, c), s.right)] for label, value in rows]
    table = Table(data, colWidths=[0.35 * width, 0.2 * width], hAlign="LEFT")
    table.setStyle(
        TableStyle(
            [
                ("LINEABOVE", (0, 6), (-1, 6), 0.8, INK),
                ("TOPPADDING", (0, 0), (-1, -1), 2),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
            ]
        )
    )
    return [table, Spacer(1, 6 * mm)]


def _entries(doc: StatementDocument, width: float, s: _Styles) -> list:
    c = doc.statement.currency
    story: list = []
    for group in doc.groups:
        rows: list[list] = [
            [_p(h, s.label) for h in ("Entry", "Invoice", "Client", "Net", "Rate", "Amount")]
        ]
        shaded: list[int] = []
        for item in group.entries:
            entry = item.entry
            shaded.append(len(rows))
            rows.append(
                [
                    _p(entry.description + (" (disputed)" if item.open_dispute else ""), s.body),
                    _p((entry.invoice.number or "draft") if entry.invoice else "", s.small),
                    _p(entry.client.name if entry.client else "", s.small),
                    _p(money(entry.basis, c) if entry.basis is not None else "", s.right),
                    _p(f"{entry.rate_pct.normalize():f} %" if entry.rate_pct else "", s.right),
                    _p(money(entry.amount, c), s.right),
                ]
            )
            for entry_line in item.lines:
                line = entry_line.line
                rows.append(
                    [
                        _p(f"  {line.description}", s.muted),
                        _p("", s.small),
                        _p(line.client.name, s.muted),
                        _p(money(line.net_amount, c), s.right),
                        _p("", s.small),
                        _p(money(entry_line.share, c), s.right),
                    ]
                )
        rows.append(
            [
                _p(f"Total {group.label.lower()}", s.strong),
                "",
                "",
                "",
                "",
                _p(money(group.total, c), s.right_strong),
            ]
        )
        table = Table(
            rows,
            colWidths=[w * width for w in (0.34, 0.13, 0.19, 0.12, 0.08, 0.14)],
            repeatRows=1,
        )
        style = [
            ("LINEBELOW", (0, 0), (-1, 0), 0.6, RULE),
            ("LINEABOVE", (0, -1), (-1, -1), 0.6, INK),
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ("TOPPADDING", (0, 0), (-1, -1), 2),
            ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
        ]
        style += [("BACKGROUND", (0, i), (-1, i), SHADE) for i in shaded]
        table.setStyle(TableStyle(style))
        story += [_p(group.label, s.heading), Spacer(1, 2 * mm), table, Spacer(1, 4 * mm)]
    return story


def _disputes_and_payout(doc: StatementDocument, s: _Styles) -> list:
    c = doc.statement.currency
    story: list = []
    if doc.disputes:
        story.append(_p("Disputes", s.heading))
        for dispute in doc.disputes:
            text = (
                f"{dispute.entry.description}: {dispute.get_status_display()} — held "
                f"{money(dispute.held_amount, c)}. Reason: {dispute.reason}"
            )
            if dispute.resolution:
                text += f" Resolution: {dispute.resolution}"
            story.append(_p(text, s.body))
    if doc.payout is not None:
        payout = doc.payout
        story.append(_p("Payout", s.heading))
        story.append(
            _p(
                f"{money(payout.amount, c)} · {payout.get_method_display()} · "
                f"{payout.get_status_display()}"
                + (
                    f" · invoice {payout.credited_invoice.number}"
                    if payout.credited_invoice
                    else ""
                ),
                s.body,
            )
        )
    return story


def statement_pdf(doc: StatementDocument, *, vendor_name: str) -> bytes:
    st = doc.statement
    s = _Styles()
    buffer = io.BytesIO()
    template = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=16 * mm,
        rightMargin=16 * mm,
        topMargin=16 * mm,
        bottomMargin=18 * mm,
        title=f"Commission statement {st.month:%Y-%m} — {st.partner.name}",
        author=vendor_name,
        subject=f"Commission statement for {month_label(st.month)}",
        creator="MSP Program",
        invariant=True,
    )
    width = template.width
    story = [
        _p(vendor_name, s.vendor),
        _p("Commission statement", s.title),
        Spacer(1, 3 * mm),
        _p(f"{st.partner.name} · {month_label(st.month)} · {st.currency}", s.strong),
        _p(f"Status: {st.get_status_display()}", s.muted),
        Spacer(1, 5 * mm),
    ]
    story += _figures(doc, width, s)
    story += _entries(doc, width, s)
    story += _disputes_and_payout(doc, s)
    footer = f"{vendor_name} · statement {st.month:%Y-%m} · {st.partner.name}"

    def decorate(canvas, _template) -> None:
        canvas.saveState()
        canvas.setFillColor(MUTED)
        canvas.setFont(s.regular, 7.5)
        canvas.drawString(16 * mm, 10 * mm, footer)
        canvas.drawRightString(A4[0] - 16 * mm, 10 * mm, f"Page {canvas.getPageNumber()}")
        canvas.restoreState()

    template.build(story, onFirstPage=decorate, onLaterPages=decorate)
    return buffer.getvalue()
