"""Console pages of agreements: per track, the versions and who stands where; publishing a new
version; a printable copy of any acceptance."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render

from core.actors import Actor
from partners.errors import PartnerError
from partners.forms_program import AgreementPublishForm, add_service_error
from partners.models import AgreementAcceptance, AgreementVersion, Track
from partners.selectors_program import (
    agreements_overview,
    track_partner_standings,
    track_versions,
)
from partners.services.agreements import (
    agreement_publish,
    latest_version,
    reaccept_count,
    render_agreement,
)
from partners.services.partners import today_for_vendor

from .console_program import can_edit_program, console_reader, program_editor


@console_reader
def agreements(request: HttpRequest) -> HttpResponse:
    context = {"rows": agreements_overview(), "can_edit": can_edit_program(request.user)}
    return render(request, "partners/console/agreements/agreements.html", context)


@console_reader
def agreement_track(request: HttpRequest, track_pk: int) -> HttpResponse:
    track = get_object_or_404(Track.objects.select_related("program"), pk=track_pk)
    versions = list(track_versions(track))
    context = {
        "track": track,
        "versions": versions,
        "current": versions[0] if versions else None,
        "standings": track_partner_standings(track),
        "today": today_for_vendor(),
        "can_edit": can_edit_program(request.user),
    }
    return render(request, "partners/console/agreements/track.html", context)


@console_reader
def agreement_version(request: HttpRequest, pk: int) -> HttpResponse:
    version = get_object_or_404(AgreementVersion.objects.select_related("track"), pk=pk)
    acceptances = list(
        AgreementAcceptance.objects.filter(agreement=version)
        .select_related("partner")
        .order_by("-accepted_at", "-id")
    )
    current = latest_version(version.track_id)
    context = {
        "version": version,
        "track": version.track,
        "is_current": current is not None and current.pk == version.pk,
        "html": render_agreement(version.body_markdown),
        "acceptances": acceptances,
    }
    return render(request, "partners/console/agreements/version.html", context)


@program_editor
def agreement_publish_view(request: HttpRequest, track_pk: int) -> HttpResponse:
    track = get_object_or_404(Track.objects.select_related("program"), pk=track_pk)
    current = latest_version(track.pk)
    initial = {"title": current.title, "body_markdown": current.body_markdown} if current else {}
    form = AgreementPublishForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            version = agreement_publish(
                track=track,
                title=form.cleaned_data["title"],
                body_markdown=form.cleaned_data["body_markdown"],
                reaccept_by=form.cleaned_data["reaccept_by"],
                actor=Actor.from_request(request),
            )
        except PartnerError as exc:
            add_service_error(form, exc)
        else:
            text = f"Version {version.version} of {track.name}'s agreement is published."
            if version.reaccept_by and version.version > 1:
                text += (
                    f" Partners that accepted an earlier version are emailed and must accept "
                    f"it by {version.reaccept_by:%-d %B %Y}."
                )
            messages.success(request, text)
            return redirect("console:agreement_track", track_pk=track.pk)
    context = {
        "track": track,
        "current": current,
        "form": form,
        "must_reaccept": reaccept_count(track) if current else 0,
        "preview": render_agreement(form.data["body_markdown"])
        if form.is_bound and form.data.get("body_markdown")
        else None,
    }
    return render(request, "partners/console/agreements/publish.html", context)


@console_reader
def acceptance_print(request: HttpRequest, pk: int) -> HttpResponse:
    acceptance = get_object_or_404(
        AgreementAcceptance.objects.select_related("agreement", "agreement__track", "partner"),
        pk=pk,
    )
    context = {
        "acceptance": acceptance,
        "version": acceptance.agreement,
        "partner": acceptance.partner,
        "html": render_agreement(acceptance.agreement.body_markdown),
    }
    return render(request, "partners/portal/program/agreement_print.html", context)
