"""Reads of the margin view: billed months, resale prices, and a partner's margin per month.

A report costs a fixed number of queries, whatever the number of clients: the partner's billed
months (one), invoice lines aggregated by (month, client, product) over the twelve months shown
(one), credit note lines issued in those months aggregated the same way (one), and the partner's
resale prices (one). The figures themselves are computed by the pure `reporting.margin`.

A line's product is its meter's product, or (seat lines, or a meter without one) its price
plan's product — the same mapping incentives uses for per-product commission rates.
"""

from __future__ import annotations

import datetime
import zoneinfo
from dataclasses import dataclass

from django.db import connection
from django.db.models import Count, F, Q, QuerySet, Sum
from django.db.models.functions import Coalesce, TruncMonth

from billing.models import BillingPeriod, CreditNoteLine, InvoiceLine
from billing.models_invoicing import InvoiceStatus, PeriodStatus
from billing.selectors_invoices import PARTNER_VISIBLE_PERIODS
from partners.models import Partner

from .margin import ClientInfo, Credit, MonthMargin, PriceBook, PriceRule, Usage, month_margin
from .models import ResalePrice

TREND_MONTHS = 12
# A void invoice bills nothing; every other status (draft in review, open, paid, failed,
# refunded, uncollectible) is what the vendor billed.
COUNTED_STATUSES = [status for status in InvoiceStatus.values if status != InvoiceStatus.VOID]


@dataclass(frozen=True)
class BilledMonth:
    month: datetime.date
    status: str  # "finalized" or "draft" (the period is in review)

    @property
    def is_draft(self) -> bool:
        return self.status == "draft"

    @property
    def value(self) -> str:
        return f"{self.month:%Y-%m}"

    @property
    def label(self) -> str:
        text = f"{self.month:%B %Y}"
        return f"{text} (draft)" if self.is_draft else text


@dataclass(frozen=True)
class TrendPoint:
    month: datetime.date
    status: str | None  # None: not billed (yet)
    figures: MonthMargin | None


@dataclass(frozen=True)
class MarginReport:
    partner: Partner
    billed: BilledMonth
    margin: MonthMargin
    trend: list[TrendPoint]  # oldest first, TREND_MONTHS long, ending with `billed`
    has_prices: bool
    other_currency_lines: int  # lines of invoices in another currency: not in the figures


def _status(period_status: str) -> str:
    return "draft" if period_status == PeriodStatus.REVIEW else "finalized"


def billed_months(partner: Partner) -> list[BilledMonth]:
    """The months the partner was billed for (its invoice is a draft in review, or finalized),
    newest first."""
    rows = (
        # One filter() call: the same invoice must be the partner's and not void.
        BillingPeriod.objects.filter(
            status__in=PARTNER_VISIBLE_PERIODS,
            invoices__partner=partner,
            invoices__status__in=COUNTED_STATUSES,
        )
        .values_list("month", "status")
        .distinct()
        .order_by("-month")
    )
    return [BilledMonth(month=month, status=_status(status)) for month, status in rows]


def default_month(months: list[BilledMonth]) -> BilledMonth | None:
    """The latest finalized month; the latest draft when nothing is finalized yet."""
    for option in months:
        if not option.is_draft:
            return option
    return months[0] if months else None


def add_months(month: datetime.date, count: int) -> datetime.date:
    index = month.year * 12 + month.month - 1 + count
    return datetime.date(index // 12, index % 12 + 1, 1)


def _vendor_zone() -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(getattr(connection.tenant, "timezone", None) or "UTC")


def _product_of(prefix: str = "") -> tuple[Coalesce, Coalesce]:
    """(product id, product name) of an invoice line: meter's product, else price plan's."""
    meter = f"{prefix}meter__product"
    plan = f"{prefix}charge__version__plan__product"
    return Coalesce(f"{meter}_id", f"{plan}_id"), Coalesce(f"{meter}__name", f"{plan}__name")


def partner_lines(partner: Partner) -> QuerySet[InvoiceLine]:
    """The lines that bill the partner, of months it can see (void invoices never count)."""
    return InvoiceLine.objects.filter(
        invoice__partner=partner,
        invoice__period__status__in=PARTNER_VISIBLE_PERIODS,
        invoice__status__in=COUNTED_STATUSES,
    )


def price_book(partner: Partner) -> PriceBook:
    """Every resale price of the partner in its currency (a handful of rows), history included."""
    prices = ResalePrice.objects.filter(partner=partner, currency=partner.currency)
    return PriceBook(
        PriceRule(
            product_id=row["product_id"],
            client_id=row["client_id"],
            effective_from=row["effective_from"],
            kind=row["kind"],
            fixed_price=row["fixed_price"],
            markup_pct=row["markup_pct"],
        )
        for row in prices.values(
            "product_id", "client_id", "effective_from", "kind", "fixed_price", "markup_pct"
        )
    )


def margin_report(partner: Partner, billed: BilledMonth, months: list[BilledMonth]) -> MarginReport:
    """The margin of `billed` per client, and the TREND_MONTHS months up to it."""
    currency = partner.currency
    first = add_months(billed.month, -(TREND_MONTHS - 1))
    window = [add_months(first, n) for n in range(TREND_MONTHS)]
    status_of = {m.month: m.status for m in months if first <= m.month <= billed.month}

    product_id, product_name = _product_of()
    lines = (
        partner_lines(partner)
        .filter(invoice__period__month__gte=first, invoice__period__month__lte=billed.month)
        .values(
            "client_id",
            "client__name",
            "client__external_id",
            "invoice__currency",
            month=F("invoice__period__month"),
            product=product_id,
            product_name=product_name,
        )
        .annotate(
            cost=Sum("net_amount"),
            regular=Count("pk", filter=Q(adjustment_of__isnull=True)),
            lines=Count("pk"),
        )
        .order_by()
    )
    zone = _vendor_zone()
    credit_product, _ = _product_of("invoice_line__")
    credit_rows = (
        CreditNoteLine.objects.filter(
            credit_note__invoice__partner=partner,
            credit_note__currency=currency,
            credit_note__created_at__gte=datetime.datetime.combine(first, datetime.time(), zone),
            credit_note__created_at__lt=datetime.datetime.combine(
                add_months(billed.month, 1), datetime.time(), zone
            ),
        )
        .values(
            "invoice_line__client_id",
            "invoice_line__client__name",
            "invoice_line__client__external_id",
            month=TruncMonth("credit_note__created_at", tzinfo=zone),
            product=credit_product,
        )
        .annotate(amount=Sum("amount"))
        .order_by()
    )

    usage: dict[datetime.date, list[Usage]] = {m: [] for m in window}
    credits: dict[datetime.date, list[Credit]] = {m: [] for m in window}
    clients: dict[int, ClientInfo] = {}
    other_currency = 0
    for row in lines:
        if row["invoice__currency"] != currency:
            if row["month"] == billed.month:
                other_currency += row["lines"]
            continue
        clients[row["client_id"]] = ClientInfo(row["client__name"], row["client__external_id"])
        usage[row["month"]].append(
            Usage(
                client_id=row["client_id"],
                product_id=row["product"],
                product_name=row["product_name"] or "",
                cost=row["cost"],
                billed=row["regular"] > 0,
            )
        )
    for row in credit_rows:
        month = row["month"].astimezone(zone).date().replace(day=1)
        client_id = row["invoice_line__client_id"]
        if month not in credits:
            continue
        if client_id is not None:
            clients[client_id] = ClientInfo(
                row["invoice_line__client__name"], row["invoice_line__client__external_id"]
            )
        credits[month].append(
            Credit(client_id=client_id, product_id=row["product"], amount=row["amount"])
        )

    prices = price_book(partner)
    figures = {
        month: month_margin(
            month=month,
            currency=currency,
            usage=usage[month],
            credits=credits[month],
            clients=clients,
            prices=prices,
        )
        for month in window
        if month in status_of
    }
    trend = [TrendPoint(month, status_of.get(month), figures.get(month)) for month in window]
    return MarginReport(
        partner=partner,
        billed=billed,
        margin=figures[billed.month],
        trend=trend,
        has_prices=bool(prices),
        other_currency_lines=other_currency,
    )


def resale_prices(partner: Partner) -> QuerySet[ResalePrice]:
    """The partner's resale prices with product and client, newest month first."""
    return (
        ResalePrice.objects.filter(partner=partner)
        .select_related("product", "client")
        .order_by("product__name", "product_id", "client__name", "client_id", "-effective_from")
    )
