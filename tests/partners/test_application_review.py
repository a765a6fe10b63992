"""Reviewing applications: the approve / reject services (one transaction, emails, audit) and
the console's queue (who may act, bad input, constant queries)."""

from __future__ import annotations

import re
from unittest import mock

import pytest
from django.core import mail
from django_tenants.utils import schema_context

from accounts.models import Invitation, User
from core.actors import Actor
from core.models import AuditEntry
from partners.enums import OnboardingStepKind
from partners.errors import PartnerError
from partners.models import Application, OnboardingStep, Partner, PartnerStatusChange
from partners.services.applications import (
    application_approve,
    application_reject,
    application_submit,
)
from tests.conftest import host_client
from tests.factories import MembershipFactory, PartnerFactory, TierFactory, TrackFactory
from tests.partners.onboarding_support import console_client, count_queries

pytestmark = pytest.mark.django_db


@pytest.fixture
def tenant(vendor_a):
    with schema_context(vendor_a.schema):
        yield vendor_a


def make_application(track, n: int = 0, **fields) -> Application:
    values = {
        "company_name": f"Applicant {n:03d}",
        "contact_name": f"Contact {n}",
        "contact_email": f"owner{n}@applicant{n}.example",
        "country": "FR",
        "track": track,
        "expected_client_count": 12,
        "message": "",
        "actor": Actor.system("tests"),
    }
    values.update(fields)
    application = application_submit(**values)
    mail.outbox.clear()
    return application


@pytest.fixture
def setup(tenant):
    """A track with an entry tier and one required step (so approval leaves it onboarding)."""
    track = TrackFactory(name="Managed Services")
    entry = TierFactory(track=track, rank=1, name="Registered")
    TierFactory(track=track, rank=2, name="Silver")
    OnboardingStep.objects.create(
        track=track, kind=OnboardingStepKind.BILLING_PROFILE, title="Billing profile"
    )
    application = make_application(
        track, company_name="Northwind IT", contact_email="nora@northwind.example"
    )
    cm = User.objects.create_user("cm@vendor-a.example", vendor_role="channel_manager")
    return {"track": track, "entry": entry, "application": application, "cm": cm}


# --- services -------------------------------------------------------------------------------


def test_approve_creates_one_partner_and_one_owner_invitation(tenant, setup):
    application, cm = setup["application"], setup["cm"]
    partners_before = Partner.objects.count()
    approved = application_approve(
        application=application,
        actor=Actor.for_user(cm, ip="10.0.0.1"),
        request_host=tenant.host,
        scheme="http",
    )
    assert Partner.objects.count() == partners_before + 1
    partner = Partner.objects.get(application=approved)
    assert (
        partner.name,
        partner.track,
        partner.tier,
        partner.status,
        partner.currency,
        partner.country,
        partner.billing_email,
    ) == (
        "Northwind IT",
        setup["track"],
        setup["entry"],
        "onboarding",
        "EUR",  # vendor A's default currency
        "FR",
        "nora@northwind.example",
    )
    [invitation] = Invitation.objects.all()
    assert (
        invitation.email,
        invitation.partner_id,
        invitation.partner_role,
        invitation.vendor_role,
        invitation.invited_by,
    ) == ("nora@northwind.example", partner.pk, "owner", "", cm)
    approved.refresh_from_db()
    assert (approved.status, approved.partner, approved.reviewed_by) == ("approved", partner, cm)
    assert approved.reviewed_at is not None
    [email] = mail.outbox
    assert email.to == ["nora@northwind.example"]
    assert "Northwind IT in the Vendor A partner portal as Owner" in email.body
    assert re.search(r"http://vendor-a\.localhost/accounts/invitations/[^/]+/", email.body)
    actions = set(AuditEntry.objects.values_list("action", flat=True))
    assert {"application.approved", "partner.created", "invitation.created"} <= actions
    entry = AuditEntry.objects.get(action="application.approved")
    assert (entry.actor_label, entry.ip, entry.after["status"], entry.after["partner_id"]) == (
        "cm@vendor-a.example",
        "10.0.0.1",
        "approved",
        partner.pk,
    )


def test_approving_into_a_track_without_steps_activates_at_once(tenant):
    track = TrackFactory()
    application = make_application(track)
    application_approve(
        application=application, actor=Actor.system("tests"), request_host=tenant.host
    )
    partner = Partner.objects.get(application=application)
    assert partner.status == "active"
    assert list(
        PartnerStatusChange.objects.filter(partner=partner)
        .order_by("id")
        .values_list("to_status", flat=True)
    ) == ["onboarding", "active"]


def test_a_decided_application_cannot_be_decided_again(tenant, setup):
    application = setup["application"]
    actor = Actor.for_user(setup["cm"])
    application_approve(application=application, actor=actor, request_host=tenant.host)
    mail.outbox.clear()
    with pytest.raises(PartnerError, match="already approved"):
        application_approve(application=application, actor=actor, request_host=tenant.host)
    with pytest.raises(PartnerError, match="already approved"):
        application_reject(application=application, reason="Changed our mind", actor=actor)
    assert Partner.objects.filter(name="Northwind IT").count() == 1
    assert Invitation.objects.count() == 1
    assert mail.outbox == []
    application.refresh_from_db()
    assert (application.status, application.decision_reason) == ("approved", "")


def test_approval_is_all_or_nothing_when_the_owner_cannot_be_invited(tenant, setup):
    User.objects.create_user("nora@northwind.example")  # the address already has an account
    partners_before = Partner.objects.count()
    with pytest.raises(PartnerError, match="already has an account"):
        application_approve(
            application=setup["application"],
            actor=Actor.for_user(setup["cm"]),
            request_host=tenant.host,
        )
    assert Partner.objects.count() == partners_before
    assert Invitation.objects.count() == 0
    assert not AuditEntry.objects.filter(action__in=["partner.created", "application.approved"])
    setup["application"].refresh_from_db()
    assert (setup["application"].status, setup["application"].partner) == ("pending", None)
    assert mail.outbox == []


def test_approval_is_rolled_back_when_the_invitation_email_fails(tenant, setup):
    partners_before = Partner.objects.count()
    with (
        mock.patch(
            "django.core.mail.EmailMultiAlternatives.send", side_effect=OSError("smtp down")
        ),
        pytest.raises(OSError),
    ):
        application_approve(
            application=setup["application"],
            actor=Actor.for_user(setup["cm"]),
            request_host=tenant.host,
        )
    assert Partner.objects.count() == partners_before
    assert Invitation.objects.count() == 0
    setup["application"].refresh_from_db()
    assert setup["application"].status == "pending"


def test_reject_needs_a_reason_and_emails_it(tenant, setup):
    application = setup["application"]
    actor = Actor.for_user(setup["cm"])
    for blank in ("", "   "):
        with pytest.raises(PartnerError, match="Give the applicant a reason"):
            application_reject(application=application, reason=blank, actor=actor)
    assert mail.outbox == []
    rejected = application_reject(
        application=application,
        reason="We only work with MSPs that manage at least 50 clients.",
        actor=actor,
    )
    assert (rejected.status, rejected.decision_reason, rejected.reviewed_by) == (
        "rejected",
        "We only work with MSPs that manage at least 50 clients.",
        setup["cm"],
    )
    [email] = mail.outbox
    assert email.to == ["nora@northwind.example"]
    assert email.subject == "Your application to the Vendor A partner program"
    assert "We only work with MSPs that manage at least 50 clients." in email.body
    assert Partner.objects.filter(name="Northwind IT").count() == 0
    entry = AuditEntry.objects.get(action="application.rejected")
    assert entry.after["decision_reason"] == rejected.decision_reason


def test_submit_turns_the_unique_constraint_into_a_readable_error(tenant, setup):
    with pytest.raises(PartnerError, match="already waiting for review") as refused:
        make_application(setup["track"], contact_email="NORA@northwind.example")
    assert refused.value.field == "contact_email"
    assert Application.objects.filter(contact_email="nora@northwind.example").count() == 1


# --- console pages --------------------------------------------------------------------------


def test_queue_lists_pending_oldest_first_with_counts(vendor_a):
    with schema_context(vendor_a.schema):
        track = TrackFactory()
        first = make_application(track, 1)
        second = make_application(track, 2)
        decided = make_application(track, 3)
        Application.objects.filter(pk=decided.pk).update(status="rejected")
    client, _ = console_client(vendor_a, "analyst")
    response = client.get("/console/applications/")
    assert response.status_code == 200
    html = response.content.decode()
    assert html.index(first.company_name) < html.index(second.company_name)
    assert decided.company_name not in html
    assert re.search(r"Pending <span class=\"badge badge-neutral\">2</span>", html)
    assert re.search(r"Rejected <span class=\"badge badge-neutral\">1</span>", html)
    rejected = client.get("/console/applications/?status=rejected").content.decode()
    assert decided.company_name in rejected and first.company_name not in rejected


def test_channel_manager_approves_from_the_console(vendor_a):
    with schema_context(vendor_a.schema):
        track = TrackFactory()
        application = make_application(track, 7, contact_email="owner@msp7.example")
    client, cm = console_client(vendor_a, "channel_manager")
    page = client.get(f"/console/applications/{application.pk}/").content.decode()
    assert "Approve" in page and "Reject" in page
    response = client.post(f"/console/applications/{application.pk}/approve/")
    with schema_context(vendor_a.schema):
        application.refresh_from_db()
        partner = application.partner
        assert Invitation.objects.get().email == "owner@msp7.example"
    assert response.status_code == 302
    assert response["Location"] == f"/console/partners/{partner.pk}/"
    assert application.reviewed_by == cm
    assert [m.to for m in mail.outbox] == [["owner@msp7.example"]]


def test_reject_from_the_console_needs_a_reason(vendor_a):
    with schema_context(vendor_a.schema):
        application = make_application(TrackFactory(), 8)
    client, _ = console_client(vendor_a, "admin", "second-admin@vendor-a.example")
    response = client.post(f"/console/applications/{application.pk}/reject/", {"reason": " "})
    assert response.status_code == 200
    assert "This field is required." in response.content.decode()
    with schema_context(vendor_a.schema):
        application.refresh_from_db()
    assert application.status == "pending"
    assert mail.outbox == []
    response = client.post(
        f"/console/applications/{application.pk}/reject/", {"reason": "Outside our region."}
    )
    assert response.status_code == 302
    with schema_context(vendor_a.schema):
        application.refresh_from_db()
    assert (application.status, application.decision_reason) == ("rejected", "Outside our region.")
    assert [m.to for m in mail.outbox] == [[application.contact_email]]


def test_other_console_roles_read_but_cannot_decide(vendor_a):
    with schema_context(vendor_a.schema):
        application = make_application(TrackFactory(), 9)
    client, _ = console_client(vendor_a, "finance")
    page = client.get(f"/console/applications/{application.pk}/")
    assert page.status_code == 200
    assert "Waiting for a channel manager's decision." in page.content.decode()
    assert "/approve/" not in page.content.decode()
    approve = client.post(f"/console/applications/{application.pk}/approve/")
    reject = client.post(f"/console/applications/{application.pk}/reject/", {"reason": "No"})
    assert (approve.status_code, reject.status_code) == (403, 403)
    with schema_context(vendor_a.schema):
        application.refresh_from_db()
        assert Partner.objects.count() == 0
        assert Invitation.objects.count() == 0
    assert (application.status, application.decision_reason) == ("pending", "")
    assert mail.outbox == []


def test_partner_users_and_anonymous_visitors_are_kept_out(vendor_a):
    with schema_context(vendor_a.schema):
        application = make_application(TrackFactory(), 10)
        membership = MembershipFactory(partner=PartnerFactory(), role="owner")
    partner_client = host_client(vendor_a.host)
    from tests.ui.conftest import login

    login(partner_client, vendor_a, membership.user)
    for url in ("/console/applications/", f"/console/applications/{application.pk}/"):
        assert partner_client.get(url).status_code == 403
    assert (
        partner_client.post(f"/console/applications/{application.pk}/approve/").status_code == 403
    )
    anonymous = host_client(vendor_a.host).get("/console/applications/")
    assert anonymous.status_code == 302 and "/accounts/login/" in anonymous["Location"]
    with schema_context(vendor_a.schema):
        application.refresh_from_db()
    assert application.status == "pending"


def test_approving_twice_from_the_console_shows_why(vendor_a):
    with schema_context(vendor_a.schema):
        application = make_application(TrackFactory(), 11)
    client, _ = console_client(vendor_a, "channel_manager")
    client.post(f"/console/applications/{application.pk}/approve/")
    again = client.post(f"/console/applications/{application.pk}/approve/")
    assert again.status_code == 200
    assert "This application was already approved" in again.content.decode()
    with schema_context(vendor_a.schema):
        assert Partner.objects.filter(name=application.company_name).count() == 1


def test_queue_runs_the_same_queries_for_3_or_30_applications(vendor_a):
    client, _ = console_client(vendor_a, "channel_manager")
    with schema_context(vendor_a.schema):
        track = TrackFactory()
        for n in range(3):
            make_application(track, n)
    client.get("/console/applications/")  # warm the routing table
    few = count_queries(lambda: client.get("/console/applications/"))
    with schema_context(vendor_a.schema):
        for n in range(3, 30):
            make_application(track, n)
    many = count_queries(lambda: client.get("/console/applications/"))
    assert few == many
    assert many <= 12
