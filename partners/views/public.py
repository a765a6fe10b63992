"""Public pages on the vendor's portal domain: the partner application form and its thank-you
page. Anonymous; spam-protected (see partners.spam)."""

from __future__ import annotations

import logging

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache

from core.actors import Actor, client_ip
from partners import spam
from partners.errors import PartnerError
from partners.forms_partners import ApplicationForm, add_service_error
from partners.services.applications import application_submit

logger = logging.getLogger(__name__)


@never_cache  # the form carries a fresh signed timestamp every time
def apply(request: HttpRequest) -> HttpResponse:
    status = 200
    if request.method == "POST":
        form = ApplicationForm(request.POST)
        if spam.rate_limit_hit(client_ip(request)):
            form.is_valid()  # bound errors are shown with the refusal, nothing is saved
            form.add_error(
                None,
                "We received too many applications from your network in the last hour. "
                "Please try again later.",
            )
            status = 429
        elif form.is_valid():
            data = form.cleaned_data
            try:
                application_submit(
                    company_name=data["company_name"],
                    contact_name=data["contact_name"],
                    contact_email=data["contact_email"],
                    country=data["country"],
                    track=data["track"],
                    expected_client_count=data["expected_client_count"],
                    message=data["message"],
                    actor=Actor.from_request(request),
                )
            except PartnerError as exc:
                add_service_error(form, exc)
            except OSError:  # the confirmation could not be sent: nothing was recorded
                logger.exception("Application confirmation email could not be sent")
                form.add_error(
                    None,
                    "We could not send the confirmation email, so your application was not "
                    "recorded. Please try again in a few minutes.",
                )
                status = 503
            else:
                return redirect("public:apply_thanks")
        form.renew_token_if_refused()
    else:
        form = ApplicationForm()
    has_tracks = form.fields["track"].queryset.exists()
    return render(
        request,
        "partners/public/apply.html",
        {"form": form, "has_tracks": has_tracks},
        status=status,
    )


def apply_thanks(request: HttpRequest) -> HttpResponse:
    return render(request, "partners/public/apply_thanks.html")
