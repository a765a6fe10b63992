"""Reads of statements, disputes and payouts: lists with totals, the statement document (each
entry grouped by kind, each accrual expanded back to its invoice lines and clients) and the CSV
rows of a statement."""

from __future__ import annotations

import datetime
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Count, Q, QuerySet, Sum

from billing.models import InvoiceLine
from core.money import ZERO, minor_units, round_money

from .models import (
    EntryKind,
    LedgerEntry,
    Payout,
    Statement,
    StatementDispute,
    StatementStatus,
)

__all__ = [
    "CSV_HEADER",
    "EntryLine",
    "StatementDocument",
    "statement_csv_rows",
    "statement_document",
    "statement_list",
    "statement_months",
    "statement_totals",
]

KIND_ORDER = [
    EntryKind.ACCRUAL,
    EntryKind.GROWTH_BONUS,
    EntryKind.NEW_CLIENT_BONUS,
    EntryKind.CLAWBACK,
    EntryKind.ADJUSTMENT,
    EntryKind.PAYOUT,
    EntryKind.PAYOUT_REVERSAL,
]


def statement_list(queryset: QuerySet[Statement] | None = None) -> QuerySet[Statement]:
    """Statements with partner and payout, newest month first (two queries a page)."""
    queryset = queryset if queryset is not None else Statement.objects.all()
    return (
        queryset.select_related("partner", "payout")
        .annotate(open_disputes=Count("disputes", filter=Q(disputes__status="open")))
        .order_by("-month", "partner__name", "currency", "id")
    )


def statement_totals(queryset: QuerySet[Statement]) -> list[dict]:
    """Per currency: how many statements and the sums of their figures (one query)."""
    return list(
        queryset.order_by()
        .values("currency")
        .annotate(
            count=Count("id"),
            accrued=Sum("accrued"),
            bonuses=Sum("bonuses"),
            clawbacks=Sum("clawbacks"),
            held=Sum("held"),
            payable=Sum("payable"),
        )
        .order_by("currency")
    )


def statement_months(queryset: QuerySet[Statement]) -> list[datetime.date]:
    return list(queryset.order_by("-month").values_list("month", flat=True).distinct())


@dataclass
class EntryLine:
    """An invoice line behind an accrual, with the part of the accrual it earned."""

    line: InvoiceLine
    share: Decimal


@dataclass
class DocumentEntry:
    entry: LedgerEntry
    lines: list[EntryLine] = field(default_factory=list)
    open_dispute: StatementDispute | None = None


@dataclass
class KindGroup:
    kind: str
    label: str
    entries: list[DocumentEntry]
    total: Decimal


@dataclass
class StatementDocument:
    statement: Statement
    groups: list[KindGroup]
    disputes: list[StatementDispute]
    payout: Payout | None

    @property
    def can_dispute(self) -> bool:
        return self.statement.status != StatementStatus.PAID and (
            self.payout is None or self.payout.status not in ("sending", "paid")
        )


def _line_product(line: InvoiceLine) -> int | None:
    if line.meter_id is not None:
        return line.meter.product_id
    return line.charge.version.plan.product_id


def _shares(amount: Decimal, lines: list[InvoiceLine], currency: str) -> list[Decimal]:
    """Split `amount` over `lines` in proportion to their net amounts, rounded, summing exactly
    to `amount` (the rounding difference goes to the largest line)."""
    if not lines:
        return []
    total = sum((line.net_amount for line in lines), ZERO)
    if total == ZERO:
        shares = [ZERO] * len(lines)
    else:
        shares = [round_money(amount * line.net_amount / total, currency) for line in lines]
    largest = max(range(len(lines)), key=lambda i: (abs(lines[i].net_amount), -i))
    shares[largest] += amount - sum(shares, ZERO)
    return shares


def _accrual_lines(entries: list[LedgerEntry]) -> dict[int, list[EntryLine]]:
    """entry id → the invoice lines of its invoice and product group (and client, when the
    entry names one), in one query for the whole statement."""
    accruals = [e for e in entries if e.kind == EntryKind.ACCRUAL and e.invoice_id]
    if not accruals:
        return {}
    lines = (
        InvoiceLine.objects.filter(invoice_id__in={e.invoice_id for e in accruals})
        .select_related("client", "meter", "charge__version__plan")
        .order_by("invoice_id", "position")
    )
    grouped: dict[tuple[int, int | None], list[InvoiceLine]] = defaultdict(list)
    for line in lines:
        grouped[(line.invoice_id, _line_product(line))].append(line)
    result: dict[int, list[EntryLine]] = {}
    for entry in accruals:
        group = grouped.get((entry.invoice_id, entry.product_id), [])
        if entry.client_id is not None:
            group = [line for line in group if line.client_id == entry.client_id]
        shares = _shares(entry.amount, group, entry.currency)
        result[entry.pk] = [
            EntryLine(line=line, share=share) for line, share in zip(group, shares, strict=True)
        ]
    return result


def statement_document(statement: Statement) -> StatementDocument:
    entries = list(
        LedgerEntry.objects.filter(statement=statement)
        .select_related("invoice", "client", "product", "credit_note")
        .order_by("kind", "month", "id")
    )
    disputes = list(
        StatementDispute.objects.filter(statement=statement)
        .select_related("entry")
        .order_by("-created_at", "-id")
    )
    open_by_entry = {d.entry_id: d for d in disputes if d.status == "open"}
    lines = _accrual_lines(entries)
    by_kind: dict[str, list[DocumentEntry]] = defaultdict(list)
    for entry in entries:
        by_kind[entry.kind].append(
            DocumentEntry(
                entry=entry, lines=lines.get(entry.pk, []), open_dispute=open_by_entry.get(entry.pk)
            )
        )
    labels = dict(EntryKind.choices)
    groups = [
        KindGroup(
            kind=kind,
            label=labels[kind],
            entries=by_kind[kind],
            total=sum((d.entry.amount for d in by_kind[kind]), ZERO),
        )
        for kind in KIND_ORDER
        if by_kind.get(kind)
    ]
    payout = Payout.objects.filter(statement=statement).select_related("credited_invoice").first()
    return StatementDocument(statement=statement, groups=groups, disputes=disputes, payout=payout)


CSV_HEADER = (
    "statement_month",
    "partner_id",
    "partner",
    "currency",
    "kind",
    "entry_id",
    "entry_month",
    "description",
    "invoice_number",
    "client",
    "client_external_id",
    "line_description",
    "line_net",
    "rate_pct",
    "amount",
)


def _money(value: Decimal | None, places: int) -> str:
    return "" if value is None else f"{value.quantize(Decimal(1).scaleb(-places)):f}"


def _plain(value: Decimal | None) -> str:
    """A rate without trailing zeros ("10", "12.5")."""
    if value is None:
        return ""
    text = f"{value:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def statement_csv_rows(document: StatementDocument) -> Iterator[list[str]]:
    """One row per invoice line behind each accrual (its commission share in `amount`), one row
    per other entry (bonus, clawback, adjustment, payout …)."""
    statement = document.statement
    places = minor_units(statement.currency)
    head = [
        f"{statement.month:%Y-%m}",
        str(statement.partner_id),
        statement.partner.name,
        statement.currency,
    ]
    for group in document.groups:
        for item in group.entries:
            entry = item.entry
            base = [
                *head,
                entry.kind,
                str(entry.pk),
                f"{entry.month:%Y-%m}",
                entry.description,
                (entry.invoice.number or "") if entry.invoice else "",
            ]
            if item.lines:
                for entry_line in item.lines:
                    line = entry_line.line
                    yield [
                        *base,
                        line.client.name,
                        line.client.external_id,
                        line.description,
                        _money(line.net_amount, places),
                        _plain(entry.rate_pct),
                        _money(entry_line.share, places),
                    ]
            else:
                client = entry.client
                yield [
                    *base,
                    client.name if client else "",
                    client.external_id if client else "",
                    "",
                    "",
                    _plain(entry.rate_pct),
                    _money(entry.amount, places),
                ]
