"""The partner's invoices in the portal: the list (month and status filters, paged, CSV export of
the lines), an invoice with its per-client breakdown, credit notes, PDF and CSV.

Every view goes through `portal_view(Capability.VIEW)` and starts from the partner's own
invoices of periods in review or finalized (`billing.selectors_invoices.partner_invoices`):
another partner's invoice, or a draft of a period still being rated, is a 404.
"""

from __future__ import annotations

from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.cache import patch_vary_headers
from django.utils.text import slugify
from django.views.decorators.http import require_safe

from billing.invoice_sections import render_invoice_sections
from billing.models import Invoice
from billing.selectors_invoices import (
    invoice_document,
    invoice_list,
    invoice_months,
    partner_invoices,
)
from billing.views.estimates import partner_estimate
from billing.views.invoices_common import (
    PAGE_SIZE,
    InvoiceFilter,
    invoice_csv_name,
    lines_csv_response,
    partial_request,
    pdf_response,
)
from partners.access import portal_view
from partners.permissions import Capability
from partners.services.partners import today_for_vendor

FILTER_NAMES = ("month", "status")


def _invoices(request: HttpRequest) -> QuerySet[Invoice]:
    return partner_invoices(request.partner.pk)


def _filterset(request: HttpRequest) -> InvoiceFilter:
    invoices = _invoices(request)
    return InvoiceFilter(
        request.GET or None, queryset=invoices, months=invoice_months(invoices), partners=False
    )


def _invoice_or_404(request: HttpRequest, pk: int) -> Invoice:
    return get_object_or_404(_invoices(request).select_related("partner", "period"), pk=pk)


@portal_view(Capability.VIEW)
@require_safe
def invoices(request: HttpRequest) -> HttpResponse:
    filterset = _filterset(request)
    page = Paginator(invoice_list(filterset.qs), PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "filter": filterset,
        "form": filterset.form,
        "page_obj": page,
        "invoices": list(page.object_list),
        "is_filtered": any(request.GET.get(name) for name in FILTER_NAMES),
        "export_query": query.urlencode(),
        "estimate": None if partial_request(request) else partner_estimate(request.partner),
    }
    template = (
        "billing/portal/invoices/_results.html"
        if partial_request(request)
        else "billing/portal/invoices/list.html"
    )
    response = render(request, template, context)
    patch_vary_headers(response, ["HX-Request"])
    return response


@portal_view(Capability.VIEW)
@require_safe
def invoices_export(request: HttpRequest) -> HttpResponse:
    filterset = _filterset(request)
    if filterset.is_bound and not filterset.is_valid():
        return redirect("portal:invoices")
    partner = slugify(request.partner.name) or "partner"
    name = f"invoice-lines-{partner}-{today_for_vendor().isoformat()}.csv"
    return lines_csv_response(filterset.qs, name)


@portal_view(Capability.VIEW)
@require_safe
def invoice_detail(request: HttpRequest, pk: int) -> HttpResponse:
    invoice = _invoice_or_404(request, pk)
    return render(
        request,
        "billing/portal/invoices/detail.html",
        {
            "invoice": invoice,
            "doc": invoice_document(invoice),
            "invoice_sections": render_invoice_sections(request, invoice, "portal"),
        },
    )


@portal_view(Capability.VIEW)
@require_safe
def invoice_pdf(request: HttpRequest, pk: int) -> HttpResponse:
    return pdf_response(request, _invoice_or_404(request, pk))


@portal_view(Capability.VIEW)
@require_safe
def invoice_lines_export(request: HttpRequest, pk: int) -> HttpResponse:
    invoice = _invoice_or_404(request, pk)
    return lines_csv_response(Invoice.objects.filter(pk=invoice.pk), invoice_csv_name(invoice))
