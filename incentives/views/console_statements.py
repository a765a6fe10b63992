"""Commission statements and payouts in the console.

Every console user reads them; finance (and admins) approve statements — one, or many at once
from the list's checkboxes — resolve disputes and record transfers made by hand."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_POST, require_safe

from accounts.enums import VendorRole
from accounts.permissions import console_user_required, vendor_role_required
from billing.views.invoices_common import partial_request
from core.actors import Actor
from partners.evaluation import money

from ..errors import IncentivesError
from ..models import Payout, PayoutStatus, Statement, StatementDispute
from ..selectors import statement_document, statement_list, statement_months, statement_totals
from ..services.disputes import dispute_resolve
from ..services.payouts import payout_record_manual
from ..services.statements import statement_approve, statements_approve
from .statements_common import (
    FILTER_NAMES,
    PAGE_SIZE,
    StatementFilter,
    statement_csv_response,
    statement_pdf_response,
)

finance_required = vendor_role_required(
    VendorRole.FINANCE, message="Only finance and admins can approve statements and payouts."
)


def can_approve(user) -> bool:
    return user.is_console_user and user.has_vendor_role(VendorRole.FINANCE)


def _filterset(request: HttpRequest) -> StatementFilter:
    statements = Statement.objects.all()
    return StatementFilter(
        request.GET or None, queryset=statements, months=statement_months(statements)
    )


@console_user_required
@require_safe
def statements(request: HttpRequest) -> HttpResponse:
    filterset = _filterset(request)
    queryset = filterset.qs
    page = Paginator(statement_list(queryset), PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "form": filterset.form,
        "page_obj": page,
        "statements": list(page.object_list),
        "totals": statement_totals(queryset),
        "is_filtered": any(request.GET.get(name) for name in FILTER_NAMES),
        "can_approve": can_approve(request.user),
    }
    template = (
        "incentives/console/statements/_results.html"
        if partial_request(request)
        else "incentives/console/statements/list.html"
    )
    response = render(request, template, context)
    patch_vary_headers(response, ["HX-Request"])
    return response


@finance_required
@require_POST
def statements_bulk_approve(request: HttpRequest) -> HttpResponse:
    # isdigit() alone admits "²", which int() refuses; ids are ASCII digits.
    ids = [
        int(value)
        for value in request.POST.getlist("statements")
        if value.isascii() and value.isdigit() and len(value) <= 18
    ]
    if not ids:
        messages.error(request, "Choose the statements to approve.")
        return redirect("console:statements")
    result = statements_approve(statement_ids=ids, actor=Actor.from_request(request))
    if result.approved:
        messages.success(request, f"{len(result.approved)} statement(s) approved.")
    for statement, reason in result.skipped:
        messages.warning(
            request, f"{statement.partner.name} {statement.month:%B %Y} not approved: {reason}"
        )
    return redirect("console:statements")


def _statement_or_404(pk: int) -> Statement:
    return get_object_or_404(Statement.objects.select_related("partner"), pk=pk)


@console_user_required
@require_safe
def statement_detail(request: HttpRequest, pk: int) -> HttpResponse:
    statement = _statement_or_404(pk)
    return render(
        request,
        "incentives/console/statements/detail.html",
        {
            "statement": statement,
            "doc": statement_document(statement),
            "can_approve": can_approve(request.user),
        },
    )


@finance_required
@require_POST
def statement_approve_view(request: HttpRequest, pk: int) -> HttpResponse:
    statement = _statement_or_404(pk)
    try:
        statement_approve(statement_id=statement.pk, actor=Actor.from_request(request))
    except IncentivesError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, "Statement approved.")
    return redirect("console:statement_detail", pk=statement.pk)


@console_user_required
@require_safe
def statement_pdf(request: HttpRequest, pk: int) -> HttpResponse:
    return statement_pdf_response(request, _statement_or_404(pk))


@console_user_required
@require_safe
def statement_csv(request: HttpRequest, pk: int) -> HttpResponse:
    return statement_csv_response(_statement_or_404(pk))


@finance_required
@require_POST
def dispute_resolve_view(request: HttpRequest, pk: int) -> HttpResponse:
    dispute = get_object_or_404(StatementDispute, pk=pk)
    uphold = request.POST.get("outcome") == "uphold"
    corrected = None
    if uphold:
        try:
            corrected = Decimal(request.POST.get("corrected_amount", "").strip())
        except InvalidOperation:
            messages.error(request, "Give the corrected amount as a number, e.g. 48.00.")
            return redirect("console:statement_detail", pk=dispute.statement_id)
    try:
        dispute_resolve(
            dispute_id=dispute.pk,
            uphold=uphold,
            corrected_amount=corrected,
            resolution=request.POST.get("resolution", ""),
            actor=Actor.from_request(request),
        )
    except IncentivesError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, "Dispute upheld." if uphold else "Dispute rejected.")
    return redirect("console:statement_detail", pk=dispute.statement_id)


@console_user_required
@require_safe
def payouts(request: HttpRequest) -> HttpResponse:
    status = request.GET.get("status", "")
    queryset = Payout.objects.select_related("partner", "statement", "credited_invoice")
    if status in PayoutStatus.values:
        queryset = queryset.filter(status=status)
    page = Paginator(queryset.order_by("-created_at", "-id"), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    return render(
        request,
        "incentives/console/payouts.html",
        {
            "page_obj": page,
            "payouts": list(page.object_list),
            "status": status,
            "statuses": PayoutStatus.choices,
            "can_record": can_approve(request.user),
        },
    )


@finance_required
@require_POST
def payout_record(request: HttpRequest, pk: int) -> HttpResponse:
    payout = get_object_or_404(Payout, pk=pk)
    try:
        payout_record_manual(
            payout_id=payout.pk,
            reference=request.POST.get("reference", ""),
            actor=Actor.from_request(request),
        )
    except IncentivesError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(
            request, f"Payout of {money(payout.amount, payout.currency)} recorded as paid."
        )
    return redirect("console:payouts")
