"""The console's application queue: every console user reads, channel managers and admins
approve or reject (with a reason that is emailed to the applicant)."""

from __future__ import annotations

import logging

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from core.actors import Actor
from partners import selectors
from partners.enums import ApplicationStatus
from partners.errors import PartnerError
from partners.forms_partners import ApplicationRejectForm, add_service_error, country_name
from partners.models import Application
from partners.services.applications import application_approve, application_reject
from partners.views.console_partners import console_reader_required, partner_manager_required

logger = logging.getLogger(__name__)

PAGE_SIZE = 50
STATUS_TABS = [
    (ApplicationStatus.PENDING, "Pending"),
    (ApplicationStatus.APPROVED, "Approved"),
    (ApplicationStatus.REJECTED, "Rejected"),
    ("all", "All"),
]


@console_reader_required
def applications(request: HttpRequest) -> HttpResponse:
    status = request.GET.get("status") or ApplicationStatus.PENDING
    if status not in {value for value, _ in STATUS_TABS}:
        status = ApplicationStatus.PENDING
    queue = selectors.application_queue(None if status == "all" else status)
    page = Paginator(queue, PAGE_SIZE).get_page(request.GET.get("page"))
    counts = selectors.application_counts()
    counts["all"] = sum(counts.values())
    context = {
        "status": status,
        "tabs": [(value, label, counts[value]) for value, label in STATUS_TABS],
        "page_obj": page,
        "applications": list(page.object_list),
    }
    return render(request, "partners/console/applications/list.html", context)


def _application(pk: int) -> Application:
    return get_object_or_404(
        Application.objects.select_related("track", "reviewed_by", "partner"), pk=pk
    )


def _render_detail(
    request: HttpRequest,
    application: Application,
    reject_form: ApplicationRejectForm | None = None,
    approve_error: str = "",
    status: int = 200,
) -> HttpResponse:
    context = {
        "application": application,
        "country_name": country_name(application.country),
        "reject_form": reject_form or ApplicationRejectForm(),
        "approve_error": approve_error,
        "can_manage": request.can_manage_partners,
        "is_pending": application.status == ApplicationStatus.PENDING,
    }
    return render(request, "partners/console/applications/detail.html", context, status=status)


@console_reader_required
def application_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _render_detail(request, _application(pk))


@require_POST
@partner_manager_required
def application_approve_view(request: HttpRequest, pk: int) -> HttpResponse:
    application = _application(pk)
    try:
        approved = application_approve(
            application=application,
            actor=Actor.from_request(request),
            request_host=request.get_host(),
            scheme=request.scheme,
        )
    except PartnerError as exc:
        return _render_detail(request, _application(pk), approve_error=str(exc))
    except OSError:  # smtplib's errors included; the approval was rolled back
        logger.exception("Owner invitation email could not be sent")
        return _render_detail(
            request,
            _application(pk),
            approve_error="The invitation email could not be sent, so the application is "
            "still pending and no partner was created. Try again in a few minutes.",
            status=503,
        )
    messages.success(
        request,
        f"{approved.company_name} is approved: the partner is onboarding and "
        f"{approved.contact_email} is invited as its owner.",
    )
    return redirect("console:partner_detail", pk=approved.partner_id)


@require_POST
@partner_manager_required
def application_reject_view(request: HttpRequest, pk: int) -> HttpResponse:
    application = _application(pk)
    form = ApplicationRejectForm(request.POST)
    if form.is_valid():
        try:
            application_reject(
                application=application,
                reason=form.cleaned_data["reason"],
                actor=Actor.from_request(request),
            )
        except PartnerError as exc:
            add_service_error(form, exc)
        except OSError:
            logger.exception("Rejection email could not be sent")
            form.add_error(
                None,
                "The email to the applicant could not be sent, so the application is still "
                "pending. Try again in a few minutes.",
            )
        else:
            messages.success(
                request,
                f"{application.company_name} is rejected; {application.contact_email} is told why.",
            )
            return redirect("console:applications")
    return _render_detail(request, _application(pk), reject_form=form)
