"""The month-end close in the console: every period with its state and live progress, and the
buttons that close, re-rate and finalize (admins and finance; the others read)."""

from __future__ import annotations

from collections import defaultdict

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Sum
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from accounts.enums import VendorRole
from accounts.permissions import console_user_required
from billing.api.periods import parse_month
from billing.closing.rate import next_month, previous_month, vendor_today
from billing.errors import PeriodStateError
from billing.models import BillingPeriod, Invoice
from billing.models_invoicing import PeriodStatus
from billing.services.periods import period_close, period_finalize, period_progress
from core.actors import Actor

CLOSE_ROLES = (VendorRole.FINANCE,)  # admins have every role


def can_close(user) -> bool:
    return user.is_authenticated and user.has_vendor_role(*CLOSE_ROLES)


_console = console_user_required


def _rows(periods: list[BillingPeriod]) -> list[dict]:
    """Each period with its progress and, per currency, invoice count and total."""
    totals: dict[int, list[dict]] = defaultdict(list)
    for row in (
        Invoice.objects.filter(period__in=periods)
        .values("period_id", "currency")
        .annotate(count=Count("id"), total=Sum("total"))
        .order_by("period_id", "currency")
    ):
        totals[row["period_id"]].append(row)
    return [
        {"period": p, "progress": period_progress(p), "totals": totals.get(p.pk, [])}
        for p in periods
    ]


def _context(request: HttpRequest) -> dict:
    today = vendor_today()
    last_month = previous_month(today.replace(day=1))
    periods = list(BillingPeriod.objects.order_by("-month")[:24])
    months = {p.month for p in periods}
    return {
        "rows": _rows(periods),
        "can_close": can_close(request.user),
        # Last month may have no period yet (nothing happened, or beat has not run).
        "unclosed_last_month": None if last_month in months else last_month,
        "current_month": today.replace(day=1),
        "closes_on": next_month(today.replace(day=1)),
        "polling": any(p.status == PeriodStatus.RATING for p in periods),
    }


@_console
def billing_periods(request: HttpRequest) -> HttpResponse:
    template = (
        "billing/console/periods/_table.html"
        if request.headers.get("HX-Request")
        else "billing/console/periods/list.html"
    )
    return render(request, template, _context(request))


def _act(request: HttpRequest, month: str, action, done: str) -> HttpResponse:
    if not can_close(request.user):
        raise PermissionDenied("Only finance and admins run the month-end close.")
    day = parse_month(month)  # 404 for a month that does not exist (2026-13)
    try:
        period = action(month=day, actor=Actor.from_request(request))
    except PeriodStateError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, done.format(month=f"{period.month:%B %Y}"))
    return redirect("console:billing_periods")


@_console
@require_POST
def billing_period_close(request: HttpRequest, month: str) -> HttpResponse:
    return _act(
        request,
        month,
        period_close,
        "Rating {month} has started: the progress below updates by itself.",
    )


@_console
@require_POST
def billing_period_finalize(request: HttpRequest, month: str) -> HttpResponse:
    return _act(
        request,
        month,
        period_finalize,
        "{month} is finalized: invoices are numbered and final.",
    )
