"""Console invoice pages: the list (filters month / status / partner, HTMX-filtered, paged, CSV
export of the filtered invoices' lines), an invoice (lines per client with subtotals and tier
breakdowns, totals, credit notes, PDF, CSV) and the credit-note form.

Every console role reads invoices; admins and finance issue credit notes.
"""

from __future__ import annotations

from decimal import Decimal

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_safe

from accounts.enums import VendorRole
from accounts.permissions import console_user_required, vendor_role_required
from billing.errors import BillingError
from billing.invoice_sections import render_invoice_sections
from billing.models import Invoice, InvoiceLine
from billing.selectors_invoices import (
    InvoiceDocument,
    invoice_document,
    invoice_list,
    invoice_months,
)
from billing.services.credit_notes import credit_note_create
from billing.views.estimates import partner_estimate
from billing.views.invoices_common import (
    PAGE_SIZE,
    InvoiceFilter,
    invoice_csv_name,
    lines_csv_response,
    partial_request,
    pdf_response,
)
from core.actors import Actor
from partners.evaluation import money
from partners.services.partners import today_for_vendor

FILTER_NAMES = ("month", "status", "partner")


def can_issue_credit_notes(user) -> bool:
    return user.is_console_user and user.has_vendor_role(VendorRole.FINANCE)


invoice_reader_required = console_user_required


credit_note_issuer_required = vendor_role_required(
    VendorRole.FINANCE, message="Only finance and admins can issue credit notes."
)


def _filterset(request: HttpRequest) -> InvoiceFilter:
    invoices = Invoice.objects.all()
    return InvoiceFilter(request.GET or None, queryset=invoices, months=invoice_months(invoices))


# --- the list ----------------------------------------------------------------------------------


@invoice_reader_required
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
        "estimate": _estimate_for_filter(request, filterset),
    }
    template = (
        "billing/console/invoices/_results.html"
        if partial_request(request)
        else "billing/console/invoices/list.html"
    )
    response = render(request, template, context)
    patch_vary_headers(response, ["HX-Request"])
    return response


def _estimate_for_filter(request: HttpRequest, filterset: InvoiceFilter) -> dict | None:
    """The running estimate of the one partner the list is filtered to (full pages only)."""
    if partial_request(request) or not filterset.is_valid():
        return None
    partner = filterset.form.cleaned_data.get("partner")
    return partner_estimate(partner) if partner else None


@invoice_reader_required
@require_safe
def invoices_export(request: HttpRequest) -> HttpResponse:
    """The lines of every invoice the list's filters match, as CSV."""
    filterset = _filterset(request)
    if filterset.is_bound and not filterset.is_valid():
        return redirect("console:invoices")
    name = f"invoice-lines-{today_for_vendor().isoformat()}.csv"
    return lines_csv_response(filterset.qs, name)


# --- one invoice -------------------------------------------------------------------------------


def _invoice_or_404(pk: int) -> Invoice:
    return get_object_or_404(Invoice.objects.select_related("partner", "period"), pk=pk)


@invoice_reader_required
@require_safe
def invoice_detail(request: HttpRequest, pk: int) -> HttpResponse:
    invoice = _invoice_or_404(pk)
    document = invoice_document(invoice)
    return render(
        request,
        "billing/console/invoices/detail.html",
        {
            "invoice": invoice,
            "doc": document,
            "can_credit": can_issue_credit_notes(request.user) and document.can_be_credited,
            # Sections of higher apps (payments: attempts, manual payment form).
            "invoice_sections": render_invoice_sections(request, invoice, "console"),
        },
    )


@invoice_reader_required
@require_safe
def invoice_pdf(request: HttpRequest, pk: int) -> HttpResponse:
    return pdf_response(request, _invoice_or_404(pk))


@invoice_reader_required
@require_safe
def invoice_lines_export(request: HttpRequest, pk: int) -> HttpResponse:
    invoice = _invoice_or_404(pk)
    return lines_csv_response(Invoice.objects.filter(pk=invoice.pk), invoice_csv_name(invoice))


# --- the credit-note form ----------------------------------------------------------------------


class CreditNoteForm(forms.Form):
    """Credit an amount of the whole invoice, or amounts of chosen lines (one field per line
    with something left to credit)."""

    MODES = [("amount", "An amount of the whole invoice"), ("lines", "Chosen lines")]

    reason = forms.CharField(
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Shown on the credit note; the partner sees it.",
    )
    mode = forms.ChoiceField(
        label="Credit", choices=MODES, initial="amount", widget=forms.RadioSelect
    )
    amount = forms.DecimalField(
        required=False,
        max_digits=18,
        decimal_places=4,
        min_value=Decimal("0"),
        label="Amount before tax",
    )

    def __init__(self, *args, document: InvoiceDocument, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.document = document
        currency = document.invoice.currency
        self.line_fields: list[tuple[str, InvoiceLine, Decimal]] = []
        left_net = document.net - document.credited_net
        self.fields["amount"].help_text = f"At most {money(left_net, currency)} is left."
        for line in document.lines:
            left = document.line_left(line)
            if left <= 0:
                continue
            name = f"line_{line.pk}"
            self.fields[name] = forms.DecimalField(
                required=False,
                max_digits=18,
                decimal_places=4,
                min_value=Decimal("0"),
                label=f"{line.client.name}: {line.description}",
                help_text=f"At most {money(left, currency)} left",
            )
            self.line_fields.append((name, line, left))

    def line_rows(self):
        return [(self[name], line, left) for name, line, left in self.line_fields]

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("mode") == "amount":
            if not cleaned.get("amount"):
                self.add_error("amount", "Enter the amount to credit.")
        elif cleaned.get("mode") == "lines" and not self.credited_lines():
            raise forms.ValidationError("Enter an amount for at least one line.")
        return cleaned

    def credited_lines(self) -> list[dict]:
        return [
            {"invoice_line": line.pk, "amount": self.cleaned_data[name]}
            for name, line, _left in self.line_fields
            if self.cleaned_data.get(name)
        ]

    def add_service_error(self, exc: BillingError, lines: list[dict]) -> None:
        field = exc.field or ""
        target = None
        if field in ("reason", "amount"):
            target = field
        elif field.startswith("lines[") and "]" in field:
            index = int(field[len("lines[") : field.index("]")])
            if 0 <= index < len(lines):
                target = f"line_{lines[index]['invoice_line']}"
        self.add_error(target, str(exc))


@credit_note_issuer_required
def credit_note_create_view(request: HttpRequest, pk: int) -> HttpResponse:
    invoice = _invoice_or_404(pk)
    document = invoice_document(invoice)
    if request.method == "POST":
        form = CreditNoteForm(request.POST, document=document)
        if form.is_valid():
            data = form.cleaned_data
            lines = form.credited_lines() if data["mode"] == "lines" else None
            try:
                note = credit_note_create(
                    invoice=invoice,
                    reason=data["reason"],
                    lines=lines,
                    amount=data["amount"] if lines is None else None,
                    actor=Actor.from_request(request),
                )
            except BillingError as exc:
                form.add_service_error(exc, lines or [])
            else:
                messages.success(
                    request,
                    f"Credit note {note.number} issued: {money(note.total, note.currency)} "
                    f"credited on {invoice.number}.",
                )
                return redirect("console:invoice_detail", pk=invoice.pk)
    else:
        form = CreditNoteForm(document=document)
    return render(
        request,
        "billing/console/invoices/credit_note_form.html",
        {"invoice": invoice, "doc": document, "form": form},
    )
