"""The MSP's margin in the portal: the month's figures per client with the twelve-month trend
(/portal/margin/), its CSV export, and the resale prices the figures come from
(/portal/margin/prices/, set through /portal/margin/prices/set/).

Every user of the partner reads (`Capability.VIEW`); owners and billing users set prices
(`Capability.MANAGE_BILLING`). Everything is read with `partner=request.partner`: another
partner's client or price is never found. The vendor console has no margin page: the resale
prices and margins are the MSP's own business data.
"""

from __future__ import annotations

import csv
import datetime
import io
from decimal import Decimal
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.text import slugify
from django.views.decorators.http import require_POST, require_safe

from billing.models import Product
from core.actors import Actor
from core.money import round_money
from partners.access import portal_view
from partners.permissions import Capability, role_can
from partners.services.client_import import export_cell
from partners.services.partners import today_for_vendor
from reporting.charts import trend_chart
from reporting.enums import ResalePriceKind
from reporting.errors import ReportingError
from reporting.forms import MonthForm, ResalePriceForm
from reporting.margin import PriceBook
from reporting.selectors import (
    BilledMonth,
    MarginReport,
    billed_months,
    default_month,
    margin_report,
    price_book,
    resale_prices,
)
from reporting.services.resale_prices import resale_price_set


def _can_edit(request: HttpRequest) -> bool:
    return role_can(request.membership.role, Capability.MANAGE_BILLING)


def _chosen_month(
    request: HttpRequest, months: list[BilledMonth]
) -> tuple[MonthForm, BilledMonth | None]:
    """The month asked for (?month=YYYY-MM) when it was billed; else the default month, with
    the form showing why."""
    if request.GET.get("month"):
        form = MonthForm(request.GET, months=months)
        if form.is_valid():
            return form, next(m for m in months if m.value == form.cleaned_data["month"])
        return form, default_month(months)
    chosen = default_month(months)
    initial = {"month": chosen.value} if chosen is not None else {}
    return MonthForm(initial=initial, months=months), chosen


@portal_view(Capability.VIEW)
@require_safe
def margin(request: HttpRequest) -> HttpResponse:
    partner = request.partner
    months = billed_months(partner)
    form, chosen = _chosen_month(request, months)
    report: MarginReport | None = margin_report(partner, chosen, months) if chosen else None
    context: dict[str, Any] = {
        "form": form,
        "months": months,
        "report": report,
        "currency": partner.currency,
        "can_edit": _can_edit(request),
    }
    if report is not None:
        context["chart"] = trend_chart(report.trend, partner.currency)
        context["trend_rows"] = list(reversed(report.trend))
    return render(request, "reporting/portal/margin.html", context)


CSV_HEADER = [
    "month",
    "status",
    "client_id",
    "client_external_id",
    "client_name",
    "currency",
    "vendor_cost",
    "credited",
    "resale_revenue",
    "margin",
    "margin_pct",
    "unpriced_products",
]


def _pct(value: Decimal | None) -> str:
    return "" if value is None else f"{value:f}"


@portal_view(Capability.VIEW)
@require_safe
def margin_export(request: HttpRequest) -> HttpResponse:
    """The month's per-client figures as CSV: one row per client, then the credits not tied to
    a client (when there are any) and the total."""
    partner = request.partner
    months = billed_months(partner)
    form, chosen = _chosen_month(request, months)
    if chosen is None or (form.is_bound and not form.is_valid()):
        raise Http404("Nothing was billed for that month.")
    report = margin_report(partner, chosen, months)
    month, currency = f"{chosen.month:%Y-%m}", partner.currency

    def _text(amount: Decimal) -> str:
        return f"{round_money(amount, currency):f}"  # already rounded: the currency's digits

    buffer = io.StringIO()
    buffer.write("\ufeff")  # so spreadsheet programs read the file as UTF-8
    writer = csv.writer(buffer)
    writer.writerow(CSV_HEADER)
    for row in report.margin.clients:
        writer.writerow(
            [
                month,
                chosen.status,
                row.client_id,
                export_cell(row.external_id),
                export_cell(row.name),
                currency,
                _text(row.vendor_cost),
                _text(row.credited),
                _text(row.resale_revenue),
                _text(row.margin),
                _pct(row.margin_pct),
                export_cell("; ".join(row.unpriced)),
            ]
        )
    lead = [month, chosen.status, "", ""]
    credits = report.margin.unallocated_credits
    if credits:
        unallocated = ["Credits not tied to a client", currency, _text(-credits), _text(credits)]
        writer.writerow([*lead, *unallocated, "", "", "", ""])
    total = report.margin.total
    writer.writerow(
        [
            *lead,
            "Total",
            currency,
            _text(total.vendor_cost),
            _text(report.margin.credited),
            _text(total.resale_revenue),
            _text(total.margin),
            _pct(total.margin_pct),
            "",
        ]
    )
    response = HttpResponse(buffer.getvalue(), content_type="text/csv; charset=utf-8")
    name = f"margin-{slugify(partner.name) or 'partner'}-{month}.csv"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["Cache-Control"] = "no-store"
    return response


# --- resale prices ------------------------------------------------------------------------------


def _price_rows(
    book: PriceBook, products: list[Product], month: datetime.date, failed: str | None
) -> list[dict]:
    """One row per product with its price this month; `failed`: the product id (as posted) of
    the row whose form came back with errors."""
    return [
        {"product": p, "rule": book.product_rule(p.pk, month), "failed": str(p.pk) == failed}
        for p in products
    ]


def _messages(form: ResalePriceForm) -> list[str]:
    """The form's errors as "Label: message" lines, for the product row that failed."""
    found = []
    for name, errors in form.errors.items():
        label = form.fields[name].label if name in form.fields else None
        found.extend(f"{label}: {error}" if label else error for error in errors)
    return found


def _prices_context(request: HttpRequest, form: ResalePriceForm | None = None) -> dict[str, Any]:
    partner = request.partner
    today = today_for_vendor().replace(day=1)
    products = list(Product.objects.order_by("name", "code"))
    history = list(resale_prices(partner))
    book = price_book(partner)
    # The override in effect now per (product, client): the latest row not after this month.
    current: dict[tuple[int, int], Any] = {}
    for price in history:
        if price.client_id is None or price.effective_from > today:
            continue
        key = (price.product_id, price.client_id)
        if key not in current or price.effective_from > current[key].effective_from:
            current[key] = price
    in_effect = [p for p in current.values() if p.kind != ResalePriceKind.INHERIT]
    editing = form is not None and form.is_bound
    scope = form.data.get("scope") if editing else None
    rows = _price_rows(
        book, products, today, form.data.get("product") if editing and scope == "product" else None
    )
    return {
        "products": products,
        "rows": rows,
        # Errors of a form that belongs to no row (no such product, no scope): shown on top.
        "failed_elsewhere": editing
        and scope != "client"
        and not any(row["failed"] for row in rows),
        "current_overrides": sorted(
            in_effect, key=lambda p: (p.client.name.casefold(), p.product.name.casefold())
        ),
        "history": history,
        "this_month": today,
        "can_edit": _can_edit(request) and not partner.is_read_only,
        "currency": partner.currency,
        "kinds": ResalePriceKind.choices,
        "product_kinds": [c for c in ResalePriceKind.choices if c[0] != ResalePriceKind.INHERIT],
        "failed": form if editing else None,
        "failed_messages": _messages(form) if editing else [],
        "failed_scope": scope,
        "override_form": form
        if editing and scope == "client"
        else ResalePriceForm(
            partner=partner,
            initial={"scope": "client", "effective_from": f"{today:%Y-%m}", "kind": "fixed"},
        ),
    }


@portal_view(Capability.VIEW)
@require_safe
def prices(request: HttpRequest) -> HttpResponse:
    return render(request, "reporting/portal/prices.html", _prices_context(request))


@portal_view(Capability.MANAGE_BILLING)
@require_POST
def price_set(request: HttpRequest) -> HttpResponse:
    partner = request.partner
    form = ResalePriceForm(request.POST, partner=partner)
    if form.is_valid():
        data = form.cleaned_data
        try:
            price, created = resale_price_set(
                partner=partner,
                product=data["product"],
                client=data.get("client"),
                effective_from=data["effective_from"],
                kind=data["kind"],
                fixed_price=data.get("fixed_price") or None,
                markup_pct=data.get("markup_pct") or None,
                actor=Actor.from_request(request),
            )
        except ReportingError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, str(exc))
        else:
            who = f"for {price.client.name}" if price.client_id else "for all clients"
            verb = "set" if created else "replaced"
            messages.success(
                request,
                f"Price of {price.product.name} {who} {verb} from "
                f"{price.effective_from:%B %Y}: {price.describe()}.",
            )
            return redirect(reverse("portal:margin_prices") + f"#product-{price.product_id}")
    response = render(request, "reporting/portal/prices.html", _prices_context(request, form))
    response.status_code = 400
    return response
