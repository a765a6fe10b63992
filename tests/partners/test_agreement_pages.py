"""Agreement pages: the console's list, track page (with overdue flags), version page, publish
form and printable copy; the portal's agreement page, acceptance and printable copy. Roles
without the right get 403 and change nothing; other partners' acceptances are 404."""

from __future__ import annotations

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import schema_context

from accounts.enums import PartnerRole, VendorRole
from core.actors import Actor
from core.models import AuditEntry
from partners.enums import PartnerStatus
from partners.models import AgreementAcceptance, AgreementNotice, AgreementVersion
from partners.services.agreements import agreement_accept, agreement_publish
from partners.services.partners import today_for_vendor
from tests.factories import MembershipFactory, PartnerFactory, TrackFactory

from .program_fixtures import console_client, portal_client, portal_member, signed_in

pytestmark = pytest.mark.django_db
ACTOR = Actor.system("tests")
BODY = "# Terms\n\nBe **nice**.\n\n<script>alert('x')</script>\n"


def publish(track, body=BODY, **kwargs):
    return agreement_publish(
        track=track, title="Partner agreement", body_markdown=body, actor=ACTOR, **kwargs
    )


def accept(partner, version, **kwargs):
    user = kwargs.pop("user", None) or MembershipFactory(partner=partner).user
    return agreement_accept(
        partner=partner,
        agreement=version,
        user=user,
        signer_name="Ada Lovelace",
        signer_title="CEO",
        ip="198.51.100.7",
        actor=ACTOR,
    )


def snapshot(tv) -> tuple:
    with schema_context(tv.schema):
        return (
            list(AgreementVersion.objects.order_by("pk").values_list("pk", "version")),
            list(AgreementAcceptance.objects.order_by("pk").values_list("pk", flat=True)),
            AgreementNotice.objects.count(),
            AuditEntry.objects.count(),
        )


@pytest.fixture
def world(vendor_a):
    with schema_context(vendor_a.schema):
        track = TrackFactory(name="Managed Services")
        v1 = publish(track)
        partner = PartnerFactory(track=track, name="Acme IT")
        other = PartnerFactory(track=track, name="Other MSP")
        other_acceptance = accept(other, v1)
    return {
        "track": track,
        "v1": v1,
        "partner": partner,
        "other": other,
        "other_acceptance": other_acceptance,
    }


# ---- console ---------------------------------------------------------------------------------


def test_console_list_shows_each_tracks_current_version_and_standing(vendor_a, world):
    client = console_client(vendor_a, VendorRole.ANALYST)
    response = client.get("/console/agreements/")
    assert response.status_code == 200
    [row] = [r for r in response.context["rows"] if r.track == world["track"]]
    assert (row.current, row.versions, row.partners, row.accepted, row.must_reaccept) == (
        world["v1"],
        1,
        2,
        1,
        0,
    )
    assert "Publish a new version" not in response.content.decode()  # analysts read only


def test_console_agreement_pages_query_counts_do_not_grow(vendor_a, world):
    client = console_client(vendor_a, VendorRole.ADMIN)
    track_url = f"/console/agreements/tracks/{world['track'].pk}/"

    def count(url) -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url).status_code == 200
        return len(queries)

    count("/console/agreements/")  # warm up
    baselines = {url: count(url) for url in ("/console/agreements/", track_url)}
    with schema_context(vendor_a.schema):
        for _ in range(3):
            track = TrackFactory()
            version = publish(track)
            for _ in range(3):
                accept(PartnerFactory(track=track), version)
        for _ in range(4):
            accept(PartnerFactory(track=world["track"]), world["v1"])
        publish(world["track"], "v2", reaccept_by=today_for_vendor() + datetime.timedelta(days=5))
    assert {url: count(url) for url in baselines} == baselines


def test_overdue_partners_are_flagged_in_the_console(vendor_a, world, monkeypatch):
    with schema_context(vendor_a.schema):
        deadline = today_for_vendor() + datetime.timedelta(days=3)
        v2 = publish(world["track"], "v2", reaccept_by=deadline)
    client = console_client(vendor_a, VendorRole.CHANNEL_MANAGER)
    url = f"/console/agreements/tracks/{world['track'].pk}/"
    body = client.get(url).content.decode()
    assert "Must re-accept" in body
    assert "Agreement overdue" not in body
    # Move the clock past the deadline.
    from partners.services import agreements as service

    later = deadline + datetime.timedelta(days=1)
    monkeypatch.setattr(service, "today_for_vendor", lambda: later)
    body = client.get(url).content.decode()
    assert 'badge-warning">Agreement overdue</span>' in body
    standings = client.get(url).context["standings"]
    assert [(s.partner.name, s.state.overdue) for s in standings] == [
        ("Other MSP", True),
        ("Acme IT", False),  # never accepted anything: onboarding, not overdue
    ]
    panel = client.get(f"/console/partners/{world['other'].pk}/tier/").content.decode()
    assert "Agreement overdue" in panel
    assert f"version {v2.version} was due by" in panel
    overview = client.get("/console/agreements/").context["rows"]
    assert [r.overdue for r in overview if r.track == world["track"]] == [1]


def test_publish_form_needs_a_deadline_when_partners_must_reaccept(vendor_a, world):
    client = console_client(vendor_a, VendorRole.CHANNEL_MANAGER)
    url = f"/console/agreements/tracks/{world['track'].pk}/publish/"
    page = client.get(url)
    assert page.context["must_reaccept"] == 1
    assert page.context["form"].initial["body_markdown"] == BODY  # starts from the current text
    before = snapshot(vendor_a)
    response = client.post(url, {"title": "Partner agreement", "body_markdown": "New terms"})
    assert response.status_code == 200
    assert response.context["form"].errors == {
        "reaccept_by": [
            "1 partner accepted an earlier version: set the date by which they must accept "
            "this one."
        ]
    }
    assert "<p>New terms</p>" in response.content.decode()  # the preview
    assert snapshot(vendor_a) == before

    deadline = today_for_vendor() + datetime.timedelta(days=14)
    response = client.post(
        url,
        {"title": "Partner agreement", "body_markdown": "New terms", "reaccept_by": deadline},
        follow=True,
    )
    assert [str(m) for m in response.context["messages"]] == [
        "Version 2 of Managed Services's agreement is published. Partners that accepted an "
        f"earlier version are emailed and must accept it by {deadline:%-d %B %Y}."
    ]
    with schema_context(vendor_a.schema):
        v2 = AgreementVersion.objects.get(version=2, track=world["track"])
        assert (v2.body_markdown, v2.reaccept_by) == ("New terms", deadline)


@pytest.mark.parametrize("role", [VendorRole.ANALYST, VendorRole.FINANCE])
def test_read_only_roles_cannot_publish(vendor_a, world, role):
    client = console_client(vendor_a, role)
    url = f"/console/agreements/tracks/{world['track'].pk}/publish/"
    before = snapshot(vendor_a)
    assert client.get(url).status_code == 403
    data = {"title": "T", "body_markdown": "x", "reaccept_by": "2099-01-01"}
    assert client.post(url, data).status_code == 403
    assert snapshot(vendor_a) == before
    assert client.get(f"/console/agreements/versions/{world['v1'].pk}/").status_code == 200


def test_partner_users_cannot_open_console_agreement_pages(vendor_a, world):
    client = portal_client(vendor_a, world["partner"])
    for url in (
        "/console/agreements/",
        f"/console/agreements/tracks/{world['track'].pk}/",
        f"/console/agreements/versions/{world['v1'].pk}/",
        f"/console/agreements/acceptances/{world['other_acceptance'].pk}/print/",
    ):
        assert client.get(url).status_code == 403, url
    before = snapshot(vendor_a)
    publish_url = f"/console/agreements/tracks/{world['track'].pk}/publish/"
    assert client.post(publish_url, {"title": "T", "body_markdown": "x"}).status_code == 403
    assert snapshot(vendor_a) == before


def test_version_page_renders_sanitised_markdown_and_lists_acceptances(vendor_a, world):
    client = console_client(vendor_a, VendorRole.SUPPORT)
    body = client.get(f"/console/agreements/versions/{world['v1'].pk}/").content.decode()
    assert "<h2>Terms</h2>" in body
    assert "<strong>nice</strong>" in body
    assert "<script>alert" not in body
    assert world["v1"].content_hash in body
    assert "Other MSP" in body
    assert "198.51.100.7" in body


def test_console_printable_copy(vendor_a, world):
    client = console_client(vendor_a, VendorRole.ANALYST)
    response = client.get(f"/console/agreements/acceptances/{world['other_acceptance'].pk}/print/")
    assert response.status_code == 200
    body = response.content.decode()
    for expected in (
        "Other MSP",
        "Ada Lovelace, CEO",
        "198.51.100.7",
        world["v1"].content_hash,
        "<h2>Terms</h2>",
        "css/agreement_print.css",
    ):
        assert expected in body
    assert client.get("/console/agreements/acceptances/999999/print/").status_code == 404


# ---- portal ----------------------------------------------------------------------------------


def test_owner_reads_and_accepts_the_agreement(vendor_a, world):
    with schema_context(vendor_a.schema):
        owner = portal_member(vendor_a, world["partner"], PartnerRole.OWNER)
    client = signed_in(vendor_a, owner)
    page = client.get("/portal/agreement/")
    assert page.status_code == 200
    body = page.content.decode()
    assert "<h2>Terms</h2>" in body
    assert "<script>alert" not in body
    assert "Accept version 1" in body

    missing = client.post(
        "/portal/agreement/accept/",
        {"version": world["v1"].pk, "signer_name": "Grace", "signer_title": "CTO"},
    )
    assert missing.status_code == 200
    assert missing.context["form"].errors == {
        "confirm": ["Tick the box to confirm that you accept the agreement."]
    }
    response = client.post(
        "/portal/agreement/accept/",
        {
            "version": world["v1"].pk,
            "signer_name": "Grace Hopper",
            "signer_title": "CTO",
            "confirm": "on",
        },
        follow=True,
    )
    assert [str(m) for m in response.context["messages"]] == [
        "Thank you: Acme IT accepted version 1 of the agreement. You can print a copy below."
    ]
    with schema_context(vendor_a.schema):
        acceptance = AgreementAcceptance.objects.get(partner=world["partner"])
        assert (
            acceptance.user,
            acceptance.signer_name,
            acceptance.signer_title,
            acceptance.signer_email,
            acceptance.ip,
            acceptance.content_hash,
        ) == (owner, "Grace Hopper", "CTO", owner.email, "127.0.0.1", world["v1"].content_hash)

    again = client.post(
        "/portal/agreement/accept/",
        {"version": world["v1"].pk, "signer_name": "G", "signer_title": "C", "confirm": "on"},
        follow=True,
    )
    [message] = [str(m) for m in again.context["messages"]]
    assert message.startswith("Acme IT already accepted version 1 on ")
    assert message.endswith(" (Grace Hopper).")
    with schema_context(vendor_a.schema):
        assert AgreementAcceptance.objects.filter(partner=world["partner"]).count() == 1

    printable = client.get("/portal/agreement/print/")
    assert printable.status_code == 200
    for expected in ("Grace Hopper, CTO", "127.0.0.1", world["v1"].content_hash, "Acme IT"):
        assert expected in printable.content.decode()
    assert printable.context["acceptance"] == acceptance
    assert client.get(f"/portal/agreement/print/{acceptance.pk}/").status_code == 200


def test_accepting_a_replaced_version_is_refused_with_a_clear_message(vendor_a, world):
    with schema_context(vendor_a.schema):
        deadline = today_for_vendor() + datetime.timedelta(days=10)
        publish(world["track"], "Version two", reaccept_by=deadline)
    client = portal_client(vendor_a, world["partner"])
    before = snapshot(vendor_a)
    response = client.post(
        "/portal/agreement/accept/",
        {"version": world["v1"].pk, "signer_name": "G", "signer_title": "C", "confirm": "on"},
        follow=True,
    )
    assert [str(m) for m in response.context["messages"]] == [
        "Version 1 has been replaced by version 2: read the current text and accept that one."
    ]
    assert "Accept version 2" in response.content.decode()
    assert snapshot(vendor_a) == before


@pytest.mark.parametrize("role", [PartnerRole.BILLING, PartnerRole.TECHNICIAN, PartnerRole.VIEWER])
def test_roles_without_sign_agreement_read_but_get_403_on_accept(vendor_a, world, role):
    client = portal_client(vendor_a, world["partner"], role)
    body = client.get("/portal/agreement/").content.decode()
    assert "Only an owner of Acme IT can accept the agreement on its behalf." in body
    assert "Accept version 1" not in body
    before = snapshot(vendor_a)
    data = {"version": world["v1"].pk, "signer_name": "G", "signer_title": "C", "confirm": "on"}
    assert client.post("/portal/agreement/accept/", data).status_code == 403
    assert snapshot(vendor_a) == before


def test_a_suspended_partner_reads_but_cannot_accept(vendor_a, world):
    with schema_context(vendor_a.schema):
        world["partner"].status = PartnerStatus.SUSPENDED
        world["partner"].save(update_fields=["status"])
    client = portal_client(vendor_a, world["partner"])
    body = client.get("/portal/agreement/").content.decode()
    assert "Acme IT is suspended: the portal is read-only." in body
    before = snapshot(vendor_a)
    data = {"version": world["v1"].pk, "signer_name": "G", "signer_title": "C", "confirm": "on"}
    assert client.post("/portal/agreement/accept/", data).status_code == 403
    assert snapshot(vendor_a) == before


def test_another_partners_acceptance_or_agreement_is_not_reachable(vendor_a, world):
    client = portal_client(vendor_a, world["partner"])
    url = f"/portal/agreement/print/{world['other_acceptance'].pk}/"
    assert client.get(url).status_code == 404
    response = client.get("/portal/agreement/print/", follow=True)
    assert [str(m) for m in response.context["messages"]] == [
        "Acme IT has not accepted an agreement yet."
    ]
    with schema_context(vendor_a.schema):
        foreign = publish(TrackFactory())
    before = snapshot(vendor_a)
    data = {"version": foreign.pk, "signer_name": "G", "signer_title": "C", "confirm": "on"}
    response = client.post("/portal/agreement/accept/", data, follow=True)
    assert [str(m) for m in response.context["messages"]] == [
        "This agreement is not one of your program's agreements."
    ]
    assert snapshot(vendor_a) == before


def test_portal_shows_the_reacceptance_deadline(vendor_a, world):
    with schema_context(vendor_a.schema):
        deadline = today_for_vendor() + datetime.timedelta(days=20)
        publish(world["track"], "v2", reaccept_by=deadline)
    client = portal_client(vendor_a, world["other"])
    body = client.get("/portal/agreement/").content.decode()
    assert f"Accept it by <strong>{deadline:%-d %B %Y}</strong>." in body
    assert "Accept version 2" in body
