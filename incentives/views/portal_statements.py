"""The partner's commission statements in the portal: the list, a statement with a dispute form
per line (owner and billing users), its PDF and CSV, and the payout method page (the owner picks
invoice credit or Stripe transfer).

Every view goes through `portal_view` and starts from the partner's own statements: another
partner's statement or entry is a 404."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from accounts.enums import PartnerRole
from billing.views.invoices_common import partial_request
from core.actors import Actor
from partners.access import portal_view
from partners.permissions import Capability, role_can

from ..errors import IncentivesError
from ..models import LedgerEntry, PayoutMethod, PayoutProfile, Statement
from ..selectors import statement_document, statement_list, statement_months
from ..services.disputes import DISPUTABLE_KINDS, dispute_open
from ..services.payout_profiles import payout_profile_set
from .statements_common import (
    PAGE_SIZE,
    StatementFilter,
    statement_csv_response,
    statement_pdf_response,
)


def _statements(request: HttpRequest):
    return Statement.objects.filter(partner_id=request.partner.pk)


def _statement_or_404(request: HttpRequest, pk: int) -> Statement:
    return get_object_or_404(_statements(request).select_related("partner"), pk=pk)


@portal_view(Capability.VIEW)
@require_safe
def commissions(request: HttpRequest) -> HttpResponse:
    statements = _statements(request)
    filterset = StatementFilter(
        request.GET or None,
        queryset=statements,
        months=statement_months(statements),
        partners=False,
    )
    page = Paginator(statement_list(filterset.qs), PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "form": filterset.form,
        "page_obj": page,
        "statements": list(page.object_list),
        "is_filtered": any(request.GET.get(name) for name in ("month", "status")),
        "profile": PayoutProfile.objects.filter(partner_id=request.partner.pk).first(),
    }
    template = (
        "incentives/portal/statements/_results.html"
        if partial_request(request)
        else "incentives/portal/statements/list.html"
    )
    response = render(request, template, context)
    patch_vary_headers(response, ["HX-Request"])
    return response


@portal_view(Capability.VIEW)
@require_safe
def commission_statement(request: HttpRequest, pk: int) -> HttpResponse:
    statement = _statement_or_404(request, pk)
    doc = statement_document(statement)
    return render(
        request,
        "incentives/portal/statements/detail.html",
        {
            "statement": statement,
            "doc": doc,
            "can_dispute": doc.can_dispute
            and role_can(request.membership.role, Capability.MANAGE_BILLING),
            "disputable_kinds": sorted(DISPUTABLE_KINDS),
        },
    )


@portal_view(Capability.VIEW)
@require_safe
def commission_statement_pdf(request: HttpRequest, pk: int) -> HttpResponse:
    return statement_pdf_response(request, _statement_or_404(request, pk))


@portal_view(Capability.VIEW)
@require_safe
def commission_statement_csv(request: HttpRequest, pk: int) -> HttpResponse:
    return statement_csv_response(_statement_or_404(request, pk))


@portal_view(Capability.MANAGE_BILLING)
@require_POST
def commission_dispute(request: HttpRequest, pk: int, entry_pk: int) -> HttpResponse:
    statement = _statement_or_404(request, pk)
    try:
        dispute_open(
            statement_id=statement.pk,
            entry_id=entry_pk,
            partner_id=request.partner.pk,
            reason=request.POST.get("reason", ""),
            actor=Actor.from_request(request),
        )
    except (Statement.DoesNotExist, LedgerEntry.DoesNotExist) as exc:
        raise Http404("No such line on this statement.") from exc
    except IncentivesError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, "Dispute sent: the amount is held until finance resolves it.")
    return redirect("portal:commission_statement", pk=statement.pk)


@portal_view(Capability.MANAGE_BILLING)
@require_http_methods(["GET", "HEAD", "POST"])
def commission_payout_profile(request: HttpRequest) -> HttpResponse:
    profile = PayoutProfile.objects.filter(partner_id=request.partner.pk).first()
    is_owner = request.membership.role == PartnerRole.OWNER
    error = None
    if request.method == "POST":
        if not is_owner:
            raise PermissionDenied("Only the partner's owner chooses how it is paid.")
        try:
            payout_profile_set(
                partner_id=request.partner.pk,
                method=request.POST.get("method", ""),
                stripe_account_id=request.POST.get("stripe_account_id", ""),
                actor=Actor.from_request(request),
            )
        except IncentivesError as exc:
            error = str(exc)
        else:
            messages.success(request, "Payout method saved.")
            return redirect("portal:commission_payout_profile")
    return render(
        request,
        "incentives/portal/payout_profile.html",
        {
            "profile": profile,
            "method": request.POST.get("method")
            or (profile.method if profile else PayoutMethod.INVOICE_CREDIT),
            "account": request.POST.get("stripe_account_id")
            or (profile.stripe_account_id if profile else ""),
            "methods": PayoutMethod.choices,
            "is_owner": is_owner,
            "error": error,
        },
    )
