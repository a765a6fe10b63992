"""Reads of invoices and credit notes, shared by the API, the console and portal pages, the PDF
and the CSV exports.

Who sees what: the vendor sees every invoice; a partner (portal user or partner API key) sees
only its own, and only once its period has been rated — drafts of a period in review, and
finalized invoices. Drafts of a period still being rated (or re-rated) are half-written and
never shown to partners.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import (
    DecimalField,
    OuterRef,
    Prefetch,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce

from billing.models import CreditNote, CreditNoteLine, Invoice, InvoiceCredit, InvoiceLine
from billing.models_invoicing import AMOUNT_DIGITS, InvoiceStatus, PeriodStatus
from core.money import ZERO, minor_units

# Periods whose invoices a partner may see.
PARTNER_VISIBLE_PERIODS = (PeriodStatus.REVIEW, PeriodStatus.FINALIZED)
CREDITABLE_STATUSES = (InvoiceStatus.OPEN, InvoiceStatus.PAID)


def partner_visible(queryset: QuerySet[Invoice]) -> QuerySet[Invoice]:
    """Only invoices of periods in review or finalized (for partner callers)."""
    return queryset.filter(period__status__in=PARTNER_VISIBLE_PERIODS)


def partner_invoices(partner_id: int) -> QuerySet[Invoice]:
    return partner_visible(Invoice.objects.filter(partner_id=partner_id))


def with_credited(queryset: QuerySet[Invoice]) -> QuerySet[Invoice]:
    """Annotate `credited`: Σ totals of the invoice's credit notes (0 without any)."""
    credited = (
        CreditNote.objects.filter(invoice=OuterRef("pk"))
        .order_by()
        .values("invoice")
        .annotate(total=Sum("total"))
        .values("total")
    )
    money = DecimalField(**AMOUNT_DIGITS)
    return queryset.annotate(
        credited=Coalesce(Subquery(credited, output_field=money), Value(ZERO), output_field=money)
    )


def invoice_list(queryset: QuerySet[Invoice] | None = None) -> QuerySet[Invoice]:
    """Rows of an invoice list: newest month first, then partner name; partner and period in
    the same query, plus the credited total."""
    queryset = Invoice.objects.all() if queryset is None else queryset
    return with_credited(
        queryset.select_related("partner", "period").order_by(
            "-period__month", "partner__name", "partner_id", "currency"
        )
    )


def credit_notes_prefetch(lookup: str = "credit_notes") -> Prefetch:
    return Prefetch(
        lookup,
        queryset=CreditNote.objects.order_by("created_at", "id").prefetch_related(
            Prefetch("lines", queryset=CreditNoteLine.objects.order_by("id"))
        ),
    )


# --- one invoice, as a document --------------------------------------------------------------


@dataclass
class ClientGroup:
    """An invoice's lines for one client, with their sums."""

    client_id: int
    name: str
    external_id: str
    lines: list[InvoiceLine] = field(default_factory=list)
    amount: Decimal = ZERO
    discount: Decimal = ZERO
    net_amount: Decimal = ZERO


@dataclass
class InvoiceDocument:
    invoice: Invoice
    groups: list[ClientGroup]
    credit_notes: list[CreditNote]
    credited: Decimal  # Σ credit note totals (tax included)
    credited_net: Decimal  # Σ credit note subtotals (before tax)
    credited_by_line: dict[int, Decimal]
    # Credits given at finalize (billing.closing.credits): already deducted in invoice.total.
    credit_lines: list[InvoiceCredit] = field(default_factory=list)

    @property
    def lines(self) -> Iterator[InvoiceLine]:
        for group in self.groups:
            yield from group.lines

    @property
    def net(self) -> Decimal:
        return self.invoice.subtotal - self.invoice.discount

    @property
    def balance(self) -> Decimal:
        """What the invoice still asks for once its credit notes are deducted."""
        return self.invoice.total - self.credited

    @property
    def has_adjustments(self) -> bool:
        return any(line.adjustment_of for line in self.lines)

    @property
    def can_be_credited(self) -> bool:
        return (
            self.invoice.status in CREDITABLE_STATUSES
            and self.invoice.total - self.credited > 0
            and self.net - self.credited_net > 0
        )

    def line_left(self, line: InvoiceLine) -> Decimal:
        return line.net_amount - self.credited_by_line.get(line.pk, ZERO)


def invoice_document(invoice: Invoice) -> InvoiceDocument:
    """The invoice's lines grouped by client (by client name; lines in their order), and its
    credit notes with their lines: three queries."""
    lines = list(
        InvoiceLine.objects.filter(invoice=invoice)
        .select_related("client", "meter")
        .order_by("client__name", "client_id", "position")
    )
    groups: dict[int, ClientGroup] = {}
    for line in lines:
        line.invoice = invoice  # no query per line for line.invoice.currency
        group = groups.get(line.client_id)
        if group is None:
            group = groups[line.client_id] = ClientGroup(
                client_id=line.client_id,
                name=line.client.name,
                external_id=line.client.external_id,
            )
        group.lines.append(line)
        group.amount += line.amount
        group.discount += line.discount
        group.net_amount += line.net_amount
    notes = list(
        CreditNote.objects.filter(invoice=invoice)
        .order_by("created_at", "id")
        .prefetch_related(Prefetch("lines", queryset=CreditNoteLine.objects.order_by("id")))
    )
    by_line: dict[int, Decimal] = {}
    for note in notes:
        for credit in note.lines.all():
            if credit.invoice_line_id is not None:
                by_line[credit.invoice_line_id] = (
                    by_line.get(credit.invoice_line_id, ZERO) + credit.amount
                )
    return InvoiceDocument(
        invoice=invoice,
        groups=list(groups.values()),
        credit_notes=notes,
        credited=sum((note.total for note in notes), ZERO),
        credited_net=sum((note.subtotal for note in notes), ZERO),
        credited_by_line=by_line,
        credit_lines=list(invoice.credit_lines.order_by("id")) if invoice.credits else [],
    )


# --- CSV export of lines ---------------------------------------------------------------------

LINE_EXPORT_HEADER = [
    "invoice_id",
    "invoice_number",
    "month",
    "invoice_status",
    "partner_id",
    "partner",
    "currency",
    "line",
    "client_id",
    "client",
    "client_external_id",
    "description",
    "price_plan",
    "meter",
    "seats",
    "quantity",
    "unit_price",
    "amount",
    "discount",
    "net_amount",
    "pooled",
    "adjustment_of",
]

_LINE_EXPORT_FIELDS = (
    "invoice_id",
    "invoice__number",
    "invoice__period__month",
    "invoice__status",
    "invoice__partner_id",
    "invoice__partner__name",
    "invoice__currency",
    "position",
    "client_id",
    "client__name",
    "client__external_id",
    "description",
    "price_plan_code",
    "meter__code",
    "seats",
    "quantity",
    "unit_price",
    "amount",
    "discount",
    "net_amount",
    "pooled",
    "adjustment_of",
)


def _plain(value: Decimal) -> str:
    """A stored decimal without trailing zeros beyond what it means ("12.50" stays, "3.000000"
    → "3")."""
    text = f"{value:f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def _money_text(value: Decimal, places: int) -> str:
    return f"{value.quantize(Decimal(1).scaleb(-places)):f}"


def line_export_rows(invoices: QuerySet[Invoice]) -> Iterator[list[str]]:
    """One row per line of `invoices` (LINE_EXPORT_HEADER's columns), streamed from the
    database in chunks: invoices by month, partner and id, lines in their order."""
    lines = (
        InvoiceLine.objects.filter(invoice__in=invoices.order_by().values("pk"))
        .order_by("invoice__period__month", "invoice__partner__name", "invoice_id", "position")
        .values_list(*_LINE_EXPORT_FIELDS)
    )
    places: dict[str, int] = {}
    for row in lines.iterator(chunk_size=2000):
        values = dict(zip(_LINE_EXPORT_FIELDS, row, strict=True))
        currency = values["invoice__currency"]
        if currency not in places:
            places[currency] = minor_units(currency)
        digits = places[currency]
        month: datetime.date = values["invoice__period__month"]
        adjustment: datetime.date | None = values["adjustment_of"]
        yield [
            str(values["invoice_id"]),
            values["invoice__number"] or "",
            f"{month:%Y-%m}",
            values["invoice__status"],
            str(values["invoice__partner_id"]),
            values["invoice__partner__name"],
            currency,
            str(values["position"]),
            str(values["client_id"]),
            values["client__name"],
            values["client__external_id"],
            values["description"],
            values["price_plan_code"],
            values["meter__code"] or "",
            "yes" if values["seats"] else "no",
            _plain(values["quantity"]),
            _plain(values["unit_price"]),
            _money_text(values["amount"], digits),
            _money_text(values["discount"], digits),
            _money_text(values["net_amount"], digits),
            "yes" if values["pooled"] else "no",
            f"{adjustment:%Y-%m}" if adjustment else "",
        ]


def invoice_months(queryset: QuerySet[Invoice]) -> list[datetime.date]:
    """The months that have invoices in `queryset`, newest first (for a month filter)."""
    return list(
        queryset.order_by("-period__month").values_list("period__month", flat=True).distinct()
    )
