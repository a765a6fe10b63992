"""The onboarding checklist in the console (configure a track's steps, sign off custom steps)
and in the portal (progress, where to do each step, the billing profile), the daily safety net."""

from __future__ import annotations

import re
from unittest import mock

import pytest
from django.urls import NoReverseMatch, reverse
from django_tenants.utils import schema_context

from accounts.services.api_keys import api_key_create
from core.actors import Actor
from core.models import AuditEntry
from msp_program.beat_schedule import BEAT_SCHEDULE
from partners.enums import OnboardingStepKind
from partners.errors import PartnerError
from partners.models import OnboardingProgress, OnboardingStep, Partner, PartnerStatusChange
from partners.services.onboarding import onboarding_step_create
from partners.tasks_onboarding import refresh_onboarding
from tests.factories import ClientFactory, PartnerFactory, TrackFactory
from tests.partners.onboarding_support import console_client, portal_client

pytestmark = pytest.mark.django_db
ACTOR = Actor.system("tests")
K = OnboardingStepKind


def steps_of(tv, track) -> list[tuple]:
    with schema_context(tv.schema):
        return list(
            OnboardingStep.objects.filter(track=track)
            .order_by("position")
            .values_list("title", "kind", "required", "position", "course_code")
        )


def reload(tv, partner) -> Partner:
    with schema_context(tv.schema):
        return Partner.objects.get(pk=partner.pk)


# --- console: configuring a track's checklist ----------------------------------------------


def test_channel_manager_adds_edits_reorders_and_deletes_steps(vendor_a):
    with schema_context(vendor_a.schema):
        track = TrackFactory(name="Managed Services")
    client, _ = console_client(vendor_a, "channel_manager")
    url = f"/console/program/tracks/{track.pk}/onboarding/"
    page = client.get(url)
    assert page.status_code == 200
    assert "Onboarding checklist: Managed Services" in page.content.decode()
    assert "No steps yet" in page.content.decode()

    for data in (
        {"kind": K.ACCEPT_AGREEMENT, "title": "Accept the agreement", "required": "on"},
        {"kind": K.COMPLETE_COURSE, "title": "MSP basics", "course_code": "MSP-101"},
        {"kind": K.CUSTOM, "title": "Kick-off call", "description": "30 min", "required": "on"},
    ):
        response = client.post(url, data)
        assert response.status_code == 302, response.content.decode()
    assert steps_of(vendor_a, track) == [
        ("Accept the agreement", "accept_agreement", True, 0, ""),
        ("MSP basics", "complete_course", False, 1, "MSP-101"),
        ("Kick-off call", "custom", True, 2, ""),
    ]
    with schema_context(vendor_a.schema):
        call = OnboardingStep.objects.get(title="Kick-off call")
        basics = OnboardingStep.objects.get(title="MSP basics")
    assert client.post(f"/console/onboarding-steps/{call.pk}/move/up/").status_code == 302
    assert [s[0] for s in steps_of(vendor_a, track)] == [
        "Accept the agreement",
        "Kick-off call",
        "MSP basics",
    ]
    edit = client.post(
        f"/console/onboarding-steps/{basics.pk}/edit/",
        {
            "title": "MSP basics course",
            "course_code": "MSP-102",
            "required": "on",
            "kind": "custom",
        },
    )
    assert edit.status_code == 302
    assert steps_of(vendor_a, track)[2] == (
        "MSP basics course",
        "complete_course",  # the kind never changes on edit
        True,
        2,
        "MSP-102",
    )
    confirm = client.get(f"/console/onboarding-steps/{call.pk}/delete/")
    assert "Delete “Kick-off call”?" in confirm.content.decode()
    assert client.post(f"/console/onboarding-steps/{call.pk}/delete/").status_code == 302
    assert [(s[0], s[3]) for s in steps_of(vendor_a, track)] == [
        ("Accept the agreement", 0),
        ("MSP basics course", 1),
    ]
    with schema_context(vendor_a.schema):
        actions = sorted(
            AuditEntry.objects.filter(object_type="partners.onboardingstep").values_list(
                "action", flat=True
            )
        )
    assert actions == [
        "onboarding_step.created",
        "onboarding_step.created",
        "onboarding_step.created",
        "onboarding_step.deleted",
        "onboarding_step.moved",
        "onboarding_step.updated",
    ]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {"kind": K.COMPLETE_COURSE, "title": "Course"},
            "Give the code of the course to complete.",
        ),
        ({"kind": K.CUSTOM, "title": ""}, "This field is required."),
        ({"kind": "teleport", "title": "X"}, "Select a valid choice."),
        (
            {"kind": K.BILLING_PROFILE, "title": "Again"},
            "already has a step to complete the billing profile",
        ),
        (
            {"kind": K.COMPLETE_COURSE, "title": "Same", "course_code": "C-1"},
            "already asks for the course C-1",
        ),
    ],
)
def test_bad_steps_are_refused_and_nothing_saved(vendor_a, data, message):
    with schema_context(vendor_a.schema):
        track = TrackFactory()
        onboarding_step_create(track=track, kind=K.BILLING_PROFILE, title="Billing", actor=ACTOR)
        onboarding_step_create(
            track=track, kind=K.COMPLETE_COURSE, title="Course", course_code="C-1", actor=ACTOR
        )
    client, _ = console_client(vendor_a, "admin", "admin2@vendor-a.example")
    response = client.post(f"/console/program/tracks/{track.pk}/onboarding/", data)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert len(steps_of(vendor_a, track)) == 2


def test_moving_the_first_step_up_is_refused_with_a_message(vendor_a):
    with schema_context(vendor_a.schema):
        track = TrackFactory()
        first = onboarding_step_create(track=track, kind=K.CUSTOM, title="First", actor=ACTOR)
        onboarding_step_create(track=track, kind=K.CUSTOM, title="Second", actor=ACTOR)
    client, _ = console_client(vendor_a, "channel_manager")
    response = client.post(f"/console/onboarding-steps/{first.pk}/move/up/", follow=True)
    assert "“First” is already first." in response.content.decode()
    assert [s[0] for s in steps_of(vendor_a, track)] == ["First", "Second"]
    assert client.post(f"/console/onboarding-steps/{first.pk}/move/sideways/").status_code == 404


@pytest.mark.parametrize("role", ["analyst", "finance", "support", "enablement"])
def test_other_roles_read_the_checklist_but_cannot_change_it(vendor_a, role):
    with schema_context(vendor_a.schema):
        track = TrackFactory()
        step = onboarding_step_create(track=track, kind=K.CUSTOM, title="Call", actor=ACTOR)
    client, _ = console_client(vendor_a, role)
    url = f"/console/program/tracks/{track.pk}/onboarding/"
    page = client.get(url)
    assert page.status_code == 200
    assert "Add a step" not in page.content.decode()
    refused = [
        client.post(url, {"kind": K.API_KEY, "title": "Key"}),
        client.get(f"/console/onboarding-steps/{step.pk}/edit/"),
        client.post(f"/console/onboarding-steps/{step.pk}/edit/", {"title": "Changed"}),
        client.post(f"/console/onboarding-steps/{step.pk}/delete/"),
        client.post(f"/console/onboarding-steps/{step.pk}/move/down/"),
    ]
    assert [r.status_code for r in refused] == [403] * 5
    assert steps_of(vendor_a, track) == [("Call", "custom", True, 0, "")]


def test_making_a_step_optional_or_deleting_it_refreshes_partners_after_commit(
    vendor_a, django_capture_on_commit_callbacks
):
    with schema_context(vendor_a.schema):
        track = TrackFactory()
        step = onboarding_step_create(track=track, kind=K.CUSTOM, title="Call", actor=ACTOR)
        partner = PartnerFactory(track=track, status="onboarding")
    client, _ = console_client(vendor_a, "channel_manager")
    with (
        mock.patch("partners.tasks_onboarding.refresh_onboarding.delay") as delay,
        django_capture_on_commit_callbacks(execute=True),
    ):
        client.post(f"/console/onboarding-steps/{step.pk}/edit/", {"title": "Call"})
    assert delay.call_count == 1
    # What the task does, run here in the vendor's schema:
    with schema_context(vendor_a.schema):
        assert refresh_onboarding() == 1
    assert reload(vendor_a, partner).status == "active"


# --- console: signing off custom steps on the partner's page --------------------------------


def test_sign_off_from_the_partner_page_activates_when_it_is_the_last_step(vendor_a):
    with schema_context(vendor_a.schema):
        track = TrackFactory()
        call = onboarding_step_create(
            track=track, kind=K.CUSTOM, title="Kick-off call", actor=ACTOR
        )
        onboarding_step_create(track=track, kind=K.FIRST_CLIENT, title="First client", actor=ACTOR)
        partner = PartnerFactory(track=track, status="onboarding")
        ClientFactory(partner=partner)
    client, cm = console_client(vendor_a, "channel_manager")
    page = client.get(f"/console/partners/{partner.pk}/").content.decode()
    assert page.count("Sign off</button>") == 1
    response = client.post(f"/console/partners/{partner.pk}/onboarding/{call.pk}/sign-off/")
    assert response.status_code == 302
    with schema_context(vendor_a.schema):
        progress = OnboardingProgress.objects.get(partner=partner, step=call)
        change = PartnerStatusChange.objects.get(partner=partner, to_status="active")
    assert progress.completed_by_label == cm.email
    assert change.reason == "All required onboarding steps are done"
    assert reload(vendor_a, partner).status == "active"
    followed = client.get(response["Location"]).content.decode()
    assert "“Kick-off call” is signed off. All required steps are done" in followed
    again = client.post(
        f"/console/partners/{partner.pk}/onboarding/{call.pk}/sign-off/", follow=True
    )
    assert "already signed off" in again.content.decode()


def test_sign_off_is_for_managers_and_for_steps_of_the_partners_track(vendor_a):
    with schema_context(vendor_a.schema):
        track = TrackFactory()
        call = onboarding_step_create(track=track, kind=K.CUSTOM, title="Call", actor=ACTOR)
        other = onboarding_step_create(track=TrackFactory(), kind=K.CUSTOM, title="X", actor=ACTOR)
        partner = PartnerFactory(track=track, status="onboarding")
    analyst, _ = console_client(vendor_a, "analyst")
    url = f"/console/partners/{partner.pk}/onboarding/{call.pk}/sign-off/"
    assert analyst.post(url).status_code == 403
    assert (
        "Sign off</button>" not in analyst.get(f"/console/partners/{partner.pk}/").content.decode()
    )
    cm, _ = console_client(vendor_a, "channel_manager")
    assert cm.get(url).status_code == 405
    assert (
        cm.post(f"/console/partners/{partner.pk}/onboarding/{other.pk}/sign-off/").status_code
        == 404
    )
    with schema_context(vendor_a.schema):
        assert not OnboardingProgress.objects.exists()
    assert reload(vendor_a, partner).status == "onboarding"


# --- portal: the checklist and the billing profile -----------------------------------------


@pytest.fixture
def onboarding_partner(vendor_a):
    with schema_context(vendor_a.schema):
        track = TrackFactory()
        for kind, title in [
            (K.ACCEPT_AGREEMENT, "Accept the agreement"),
            (K.BILLING_PROFILE, "Billing profile"),
            (K.FIRST_CLIENT, "First client"),
            (K.API_KEY, "API key"),
            (K.CUSTOM, "Kick-off call"),
        ]:
            onboarding_step_create(track=track, kind=kind, title=title, actor=ACTOR)
        onboarding_step_create(
            track=track,
            kind=K.COMPLETE_COURSE,
            title="Basics",
            course_code="MSP-101",
            required=False,
            actor=ACTOR,
        )
        partner = PartnerFactory(
            track=track, status="onboarding", billing_email="", billing_address=""
        )
        ClientFactory(partner=partner)  # first client: done
    return partner


def url_or_none(name: str) -> str | None:
    try:
        return reverse(name)
    except NoReverseMatch:
        return None


def test_portal_checklist_shows_progress_state_and_where_to_act(vendor_a, onboarding_partner):
    client, _ = portal_client(vendor_a, onboarding_partner, "owner")
    response = client.get("/portal/onboarding/")
    assert response.status_code == 200
    html = response.content.decode()
    # 2 of 5 required done: "Accept the agreement" (the track has no agreement yet) + first client.
    assert '<progress class="progress" id="onboarding-progress"' in html
    assert 'value="40"' in html
    assert "2 of 5 required steps done." in html
    cards = re.findall(r"<h3>(.*?)</h3>.*?badge-status [a-z-]+\">(Done|To do)", html, re.S)
    assert [(title.split(" <")[0], state) for title, state in cards] == [
        ("Accept the agreement", "Done"),
        ("Billing profile", "To do"),
        ("First client", "Done"),
        ("API key", "To do"),
        ("Kick-off call", "To do"),
        ("Basics", "To do"),
    ]
    assert 'href="/portal/billing-profile/">Complete the billing profile</a>' in html
    team = url_or_none("portal:team")
    if team:
        assert f'href="{team}">Create an API key</a>' in html
    assert "Vendor A signs this step off once it is done" in html


def test_portal_checklist_tells_roles_that_cannot_act_whom_to_ask(vendor_a, onboarding_partner):
    client, _ = portal_client(vendor_a, onboarding_partner, "viewer")
    html = client.get("/portal/onboarding/").content.decode()
    assert "Complete the billing profile</a>" not in html
    assert "Your role cannot do this step: ask your partner's owner or billing contact." in html


def test_owner_completes_the_billing_profile_and_the_partner_activates(
    vendor_a, onboarding_partner
):
    partner = onboarding_partner
    with schema_context(vendor_a.schema):
        api_key_create(name="rmm", partner_id=partner.pk, actor=ACTOR)
        call = OnboardingStep.objects.get(track=partner.track, kind=K.CUSTOM)
        OnboardingProgress.objects.create(
            partner=partner, step=call, completed_at="2026-01-02T10:00:00Z", completed_by_label="cm"
        )
    client, owner = portal_client(vendor_a, partner, "owner")
    page = client.get("/portal/billing-profile/").content.decode()
    assert "19.00 %" in page and "EUR" in page  # vendor-set, shown read-only
    assert 'name="tax_rate"' not in page and 'name="currency"' not in page
    response = client.post(
        "/portal/billing-profile/",
        {
            "billing_email": "AP@Northwind.example",
            "country": "FR",
            "billing_address": "1 Rue de la Paix\nParis",
            "tax_rate": "0",  # ignored: not a field of this form
        },
    )
    assert response.status_code == 302
    after = reload(vendor_a, partner)
    assert (after.billing_email, after.country, after.billing_address, str(after.tax_rate)) == (
        "ap@northwind.example",
        "FR",
        "1 Rue de la Paix\nParis",
        "19.00",
    )
    assert after.status == "active"
    with schema_context(vendor_a.schema):
        assert set(
            OnboardingProgress.objects.filter(partner=partner).values_list("step__kind", flat=True)
        ) == {"accept_agreement", "billing_profile", "first_client", "api_key", "custom"}
        entry = AuditEntry.objects.get(action="partner.updated", object_id=str(partner.pk))
    assert entry.actor_label == owner.email
    followed = client.get("/portal/billing-profile/").content.decode()
    assert "Onboarding is complete: your partnership is active." in followed


def test_billing_contacts_edit_too_but_technicians_and_viewers_cannot(vendor_a, onboarding_partner):
    partner = onboarding_partner
    data = {"billing_email": "x@msp.example", "country": "FR", "billing_address": "Somewhere"}
    for role in ("technician", "viewer"):
        client, _ = portal_client(vendor_a, partner, role)
        assert client.get("/portal/billing-profile/").status_code == 403
        assert client.post("/portal/billing-profile/", data).status_code == 403
    after = reload(vendor_a, partner)
    assert (after.billing_email, after.country, after.billing_address) == ("", "DE", "")
    billing, _ = portal_client(vendor_a, partner, "billing")
    assert billing.post("/portal/billing-profile/", data).status_code == 302
    assert reload(vendor_a, partner).billing_email == "x@msp.example"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"billing_email": "not-an-email"}, "Enter a valid email address."),
        ({"billing_address": ""}, "This field is required."),
        ({"country": "XX"}, "Select a valid choice."),
    ],
)
def test_bad_billing_profile_input_saves_nothing(vendor_a, onboarding_partner, overrides, message):
    client, _ = portal_client(vendor_a, onboarding_partner, "owner")
    data = {"billing_email": "ap@msp.example", "country": "FR", "billing_address": "Rue 1"}
    response = client.post("/portal/billing-profile/", {**data, **overrides})
    assert response.status_code == 200
    assert message in response.content.decode()
    after = reload(vendor_a, onboarding_partner)
    assert (after.billing_email, after.country, after.billing_address) == ("", "DE", "")


def test_portal_pages_need_a_partner_membership(vendor_a):
    staff, _ = console_client(vendor_a, "channel_manager")
    assert staff.get("/portal/onboarding/").status_code == 403
    assert staff.get("/portal/billing-profile/").status_code == 403


# --- the daily safety net ------------------------------------------------------------------


def test_refresh_task_activates_done_partners_once_and_is_scheduled_daily(vendor_a):
    with schema_context(vendor_a.schema):
        track = TrackFactory()
        onboarding_step_create(track=track, kind=K.FIRST_CLIENT, title="First client", actor=ACTOR)
        done = PartnerFactory(track=track, status="onboarding")
        waiting = PartnerFactory(track=track, status="onboarding")
        suspended = PartnerFactory(track=track, status="suspended")
        ClientFactory(partner=done)
        ClientFactory(partner=suspended)
        assert refresh_onboarding() == 1
        assert refresh_onboarding() == 0  # a second run changes nothing
        statuses = dict(Partner.objects.values_list("pk", "status"))
        assert (statuses[done.pk], statuses[waiting.pk], statuses[suspended.pk]) == (
            "active",
            "onboarding",
            "suspended",
        )
        assert PartnerStatusChange.objects.filter(partner=done, to_status="active").count() == 1
    entry = BEAT_SCHEDULE["refresh-onboarding"]
    assert entry["task"] == "tenancy.tasks.fan_out_to_vendors"
    assert entry["args"] == ("partners.tasks_onboarding.refresh_onboarding",)
    assert (entry["schedule"].minute, entry["schedule"].hour) == ({41}, {3})
    from msp_program.celery import app

    app.loader.import_default_modules()
    assert "partners.tasks_onboarding.refresh_onboarding" in app.tasks


def test_step_services_refuse_bad_moves(vendor_a):
    from partners.services.onboarding import onboarding_step_move

    with schema_context(vendor_a.schema):
        step = onboarding_step_create(
            track=TrackFactory(), kind=K.CUSTOM, title="Only", actor=ACTOR
        )
        with pytest.raises(PartnerError, match="one place up or down"):
            onboarding_step_move(step=step, offset=2, actor=ACTOR)
        with pytest.raises(PartnerError, match="already last"):
            onboarding_step_move(step=step, offset=1, actor=ACTOR)
