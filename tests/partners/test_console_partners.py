"""The console's partner list (filters, search, sorting, pages, constant queries), the partner
page and signing / editing a partner in the console."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.core import mail
from django.urls import NoReverseMatch, reverse
from django_tenants.utils import schema_context

from accounts.models import Invitation
from core.actors import Actor
from core.models import AuditEntry
from partners.enums import OnboardingStepKind, TierChangeKind
from partners.models import (
    AgreementAcceptance,
    AgreementVersion,
    OnboardingStep,
    Partner,
    TierChange,
)
from partners.services.invitations import partner_invitation_create
from partners.services.partners import partner_update
from partners.views import console_partners
from tests.conftest import host_client
from tests.factories import (
    ClientFactory,
    MembershipFactory,
    PartnerFactory,
    TierFactory,
    TrackFactory,
    UserFactory,
)
from tests.partners.onboarding_support import console_client, count_queries
from tests.ui.conftest import login

pytestmark = pytest.mark.django_db


@pytest.fixture
def catalogue(vendor_a):
    """Two tracks with tiers and five partners in different states and countries."""
    with schema_context(vendor_a.schema):
        services = TrackFactory(name="Managed Services")
        security = TrackFactory(name="Managed Security")
        registered = TierFactory(track=services, rank=1, name="Registered")
        gold = TierFactory(track=services, rank=3, name="Gold")
        sec_entry = TierFactory(track=security, rank=1, name="Sec Registered")
        partners = {
            "alpha": PartnerFactory(
                name="Alpha Networks",
                track=services,
                tier=gold,
                country="DE",
                external_id="CRM-001",
                billing_email="ap@alpha.example",
            ),
            "bravo": PartnerFactory(
                name="Bravo IT", track=services, tier=registered, country="FR", status="onboarding"
            ),
            "charlie": PartnerFactory(
                name="Charlie Cloud",
                track=security,
                tier=sec_entry,
                country="DE",
                status="suspended",
            ),
            "delta": PartnerFactory(
                name="Delta Systems",
                track=security,
                tier=sec_entry,
                country="NL",
                billing_email="invoices@delta.example",
            ),
            "echo": PartnerFactory(
                name="Echo Managed",
                track=services,
                tier=registered,
                country="US",
                status="terminated",
            ),
        }
        ClientFactory.create_batch(3, partner=partners["alpha"])
        ClientFactory(partner=partners["delta"])
    return {"services": services, "security": security, "gold": gold, **partners}


def names(response) -> list[str]:
    html = response.content.decode()
    found = []
    for name in (
        "Alpha Networks",
        "Bravo IT",
        "Charlie Cloud",
        "Delta Systems",
        "Echo Managed",
    ):
        index = html.find(f"<strong>{name}</strong>")
        if index >= 0:
            found.append((index, name))
    return [name for _, name in sorted(found)]


def test_list_shows_every_partner_with_its_facts(vendor_a, catalogue):
    client, _ = console_client(vendor_a, "analyst")
    response = client.get("/console/partners/")
    assert response.status_code == 200
    assert names(response) == [
        "Alpha Networks",
        "Bravo IT",
        "Charlie Cloud",
        "Delta Systems",
        "Echo Managed",
    ]
    html = response.content.decode()
    assert "5 partners." in html
    assert '<td data-label="Clients">3</td>' in html  # Alpha's clients
    assert "Germany" in html and "Netherlands" in html
    assert "New partner" not in html  # analysts read only


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("status=suspended", ["Charlie Cloud"]),
        ("status=active", ["Alpha Networks", "Delta Systems"]),
        ("country=DE", ["Alpha Networks", "Charlie Cloud"]),
        ("q=crm-001", ["Alpha Networks"]),  # external id
        ("q=invoices@delta", ["Delta Systems"]),  # billing email
        ("q=bravo", ["Bravo IT"]),  # name
        ("q=nothing-like-this", []),
        (
            "sort=-name",
            ["Echo Managed", "Delta Systems", "Charlie Cloud", "Bravo IT", "Alpha Networks"],
        ),
    ],
)
def test_filters_search_and_sorting(vendor_a, catalogue, query, expected):
    client, _ = console_client(vendor_a, "channel_manager")
    response = client.get(f"/console/partners/?{query}")
    assert response.status_code == 200
    assert names(response) == expected


def test_track_and_tier_filters(vendor_a, catalogue):
    client, _ = console_client(vendor_a, "channel_manager")
    security = client.get(f"/console/partners/?track={catalogue['security'].pk}")
    assert names(security) == ["Charlie Cloud", "Delta Systems"]
    gold = client.get(
        f"/console/partners/?tier={catalogue['gold'].pk}&track={catalogue['services'].pk}"
    )
    assert names(gold) == ["Alpha Networks"]
    combined = client.get(f"/console/partners/?track={catalogue['services'].pk}&country=FR")
    assert names(combined) == ["Bravo IT"]
    empty = client.get("/console/partners/?country=FR&status=suspended")
    assert "No matching partners" in empty.content.decode()


def test_a_bad_filter_value_is_reported_not_crashed(vendor_a, catalogue):
    client, _ = console_client(vendor_a, "channel_manager")
    response = client.get("/console/partners/?status=bogus&track=abc")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Select a valid choice." in html


def test_pages_and_htmx_fragment(vendor_a, catalogue, monkeypatch):
    monkeypatch.setattr(console_partners, "PAGE_SIZE", 2)
    client, _ = console_client(vendor_a, "channel_manager")
    first = client.get("/console/partners/?sort=name")
    assert names(first) == ["Alpha Networks", "Bravo IT"]
    assert "Partners 1–2 of 5" in first.content.decode()
    third = client.get("/console/partners/?sort=name&page=3")
    assert names(third) == ["Echo Managed"]
    fragment = client.get("/console/partners/?sort=name&page=2", HTTP_HX_REQUEST="true")
    html = fragment.content.decode()
    assert "<html" not in html and names(fragment) == ["Charlie Cloud", "Delta Systems"]
    assert fragment["Vary"].count("HX-Request") == 1


def test_list_runs_the_same_queries_for_5_or_60_partners(vendor_a, catalogue):
    client, _ = console_client(vendor_a, "channel_manager")
    client.get("/console/partners/")  # warm the routing table
    few = count_queries(lambda: client.get("/console/partners/"))
    with schema_context(vendor_a.schema):
        tracks = [catalogue["services"], catalogue["security"]]
        for n in range(55):
            partner = PartnerFactory(track=tracks[n % 2], country=["DE", "IT", "ES"][n % 3])
            ClientFactory.create_batch(2, partner=partner)
    many = count_queries(lambda: client.get("/console/partners/"))
    assert few == many
    assert many <= 14


def test_partner_page_shows_profile_users_clients_onboarding_agreement_and_audit(vendor_a):
    with schema_context(vendor_a.schema):
        track = TrackFactory(name="Managed Services")
        silver = TierFactory(track=track, rank=2, name="Silver")
        registered = TierFactory(track=track, rank=1, name="Registered")
        partner = PartnerFactory(
            name="Northwind IT",
            track=track,
            tier=silver,
            status="onboarding",
            external_id="NW-7",
            billing_address="1 Harbour Road\nHamburg",
        )
        owner = MembershipFactory(
            partner=partner, role="owner", user=UserFactory(email="olga@northwind.example")
        )
        partner_invitation_create(
            partner=partner,
            email="tech@northwind.example",
            role="technician",
            invited_by=None,
            actor=Actor.system("tests"),
            request_host=vendor_a.host,
        )
        for n in range(25):
            ClientFactory(partner=partner, name=f"Client {n:02d}")
        OnboardingStep.objects.create(
            track=track,
            kind=OnboardingStepKind.BILLING_PROFILE,
            title="Billing details",
            position=0,
        )
        custom = OnboardingStep.objects.create(
            track=track, kind=OnboardingStepKind.CUSTOM, title="Kick-off call", position=1
        )
        agreement = AgreementVersion.objects.create(
            track=track,
            version=1,
            title="Partner Agreement",
            body_markdown="Terms",
            content_hash="a" * 64,
            created_by_label="tests",
        )
        AgreementAcceptance.objects.create(
            partner=partner,
            agreement=agreement,
            user=owner.user,
            signer_name="Olga Owner",
            signer_title="CEO",
            signer_email="olga@northwind.example",
            content_hash="a" * 64,
        )
        TierChange.objects.create(
            partner=partner,
            from_tier=registered,
            to_tier=silver,
            kind=TierChangeKind.EVALUATION,
            reason="Met the Silver requirements",
            actor_label="tier evaluation",
        )
        partner_update(partner=partner, actor=Actor.system("tests"), tax_rate="21")
    client, _ = console_client(vendor_a, "channel_manager")
    response = client.get(f"/console/partners/{partner.pk}/")
    assert response.status_code == 200
    html = response.content.decode()
    for text in (
        "Northwind IT",
        "NW-7",
        "1 Harbour Road<br>Hamburg",
        "21.00 %",
        "olga@northwind.example",
        "Owner",
        "tech@northwind.example",
        "Invited",
        'Clients <span class="muted">(25)</span>',
        "Client 19",
        "Showing the first 20 of 25 clients by name.",
        "Kick-off call",
        "Billing details",
        "1 of 2 required steps done",
        "Olga Owner, CEO",
        "Partner Agreement v1",
        "Met the Silver requirements",
        "partner.updated",
        f"/console/program/tracks/{track.pk}/onboarding/",
        f"/console/partners/{partner.pk}/onboarding/{custom.pk}/sign-off/",
        f"/console/partners/{partner.pk}/suspend/",
        f"/console/partners/{partner.pk}/terminate/",
    ):
        assert text in html, text
    assert "Client 20" not in html  # only the first 20 by name
    try:
        clients_url = reverse("console:clients")
    except NoReverseMatch:  # the clients area is not built in this tree
        clients_url = None
    if clients_url:
        assert f'href="{clients_url}?partner={partner.pk}"' in html


def test_partner_page_says_when_the_latest_agreement_is_not_accepted(vendor_a):
    with schema_context(vendor_a.schema):
        track = TrackFactory()
        partner = PartnerFactory(track=track)
        v1 = AgreementVersion.objects.create(
            track=track,
            version=1,
            title="Terms",
            body_markdown="1",
            content_hash="1" * 64,
            created_by_label="tests",
        )
        AgreementAcceptance.objects.create(
            partner=partner,
            agreement=v1,
            signer_name="Sam",
            signer_title="COO",
            signer_email="sam@msp.example",
            content_hash="1" * 64,
        )
        AgreementVersion.objects.create(
            track=track,
            version=2,
            title="Terms",
            body_markdown="2",
            content_hash="2" * 64,
            created_by_label="tests",
            reaccept_by=datetime.date(2026, 12, 31),
        )
    client, _ = console_client(vendor_a, "support")
    html = client.get(f"/console/partners/{partner.pk}/").content.decode()
    assert "Not accepted" in html
    assert "Terms v2, to accept by 31 Dec 2026" in html
    assert "Accepted v1 on" in html and "(Sam)" in html


def test_partner_page_includes_the_tier_panel_only_when_it_exists(vendor_a, monkeypatch):
    with schema_context(vendor_a.schema):
        partner = PartnerFactory()
    client, _ = console_client(vendor_a, "channel_manager")
    monkeypatch.setattr(console_partners, "_tier_panel_available", lambda: False)
    without = client.get(f"/console/partners/{partner.pk}/").content.decode()
    assert "tier-panel" not in without
    assert 'id="tier-history-heading"' in without  # the page's own tier history instead
    monkeypatch.undo()
    monkeypatch.setattr(console_partners, "TIER_PANEL", "partners/console/program/missing.html")
    assert console_partners._tier_panel_available() is False
    monkeypatch.setattr(console_partners, "TIER_PANEL", "includes/empty_state.html")
    assert console_partners._tier_panel_available() is True


def test_partner_page_is_404_for_unknown_partners_and_403_for_partner_users(vendor_a):
    with schema_context(vendor_a.schema):
        partner = PartnerFactory()
        member = MembershipFactory(partner=partner, role="owner")
    client, _ = console_client(vendor_a, "analyst")
    assert client.get("/console/partners/999999/").status_code == 404
    portal_user = host_client(vendor_a.host)
    login(portal_user, vendor_a, member.user)
    assert portal_user.get(f"/console/partners/{partner.pk}/").status_code == 403
    assert portal_user.get("/console/partners/").status_code == 403


# --- signing directly, editing ---------------------------------------------------------------


def create_data(track, **overrides) -> dict:
    data = {
        "name": "Contoso Managed",
        "track": str(track.pk),
        "tier": "",
        "owner_email": "Owner@Contoso.example",
        "external_id": "CRM-900",
        "country": "NL",
        "currency": "eur",
        "billing_email": "ap@contoso.example",
        "tax_rate": "21",
        "billing_address": "Damrak 1, Amsterdam",
    }
    data.update(overrides)
    return data


def test_new_partner_form_signs_a_partner_and_invites_its_owner(vendor_a):
    with schema_context(vendor_a.schema):
        track = TrackFactory()
        entry = TierFactory(track=track, rank=1)
        OnboardingStep.objects.create(track=track, kind=OnboardingStepKind.API_KEY, title="Key")
    client, cm = console_client(vendor_a, "channel_manager")
    form = client.get("/console/partners/new/").content.decode()
    assert 'name="currency" value="EUR"' in form  # the vendor's default currency
    response = client.post("/console/partners/new/", create_data(track))
    with schema_context(vendor_a.schema):
        partner = Partner.objects.get(name="Contoso Managed")
        invitation = Invitation.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/console/partners/{partner.pk}/"
    assert (
        partner.status,
        partner.tier,
        partner.currency,
        partner.country,
        partner.tax_rate,
        partner.external_id,
        partner.billing_address,
    ) == ("onboarding", entry, "EUR", "NL", Decimal("21.00"), "CRM-900", "Damrak 1, Amsterdam")
    assert (
        invitation.email,
        invitation.partner_id,
        invitation.partner_role,
        invitation.invited_by,
    ) == (
        "owner@contoso.example",
        partner.pk,
        "owner",
        cm,
    )
    assert [m.to for m in mail.outbox] == [["owner@contoso.example"]]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"name": ""}, "This field is required."),
        ({"currency": "XYZ"}, "“XYZ” is not an ISO 4217 currency code."),
        ({"tax_rate": "101"}, "Ensure this value is less than or equal to 100."),
        ({"owner_email": "nope"}, "Enter a valid email address."),
        ({"external_id": "TAKEN-1"}, "Another partner already has the external id “TAKEN-1”."),
    ],
)
def test_new_partner_bad_input_saves_nothing(vendor_a, overrides, message):
    with schema_context(vendor_a.schema):
        track = TrackFactory()
        PartnerFactory(external_id="TAKEN-1")
        before = Partner.objects.count()
    client, _ = console_client(vendor_a, "admin", "admin2@vendor-a.example")
    response = client.post("/console/partners/new/", create_data(track, **overrides))
    assert response.status_code == 200
    assert message in response.content.decode()
    with schema_context(vendor_a.schema):
        assert Partner.objects.count() == before
        assert Invitation.objects.count() == 0
    assert mail.outbox == []


def test_a_tier_of_another_track_is_refused(vendor_a):
    with schema_context(vendor_a.schema):
        track = TrackFactory()
        other_tier = TierFactory(name="Elsewhere")
    client, _ = console_client(vendor_a, "channel_manager")
    response = client.post("/console/partners/new/", create_data(track, tier=str(other_tier.pk)))
    assert "Elsewhere is a tier of another track." in response.content.decode()
    with schema_context(vendor_a.schema):
        assert not Partner.objects.filter(name="Contoso Managed").exists()


def test_an_owner_who_already_has_an_account_rolls_the_partner_back(vendor_a):
    with schema_context(vendor_a.schema):
        track = TrackFactory()
        UserFactory(email="owner@contoso.example")
    client, _ = console_client(vendor_a, "channel_manager")
    response = client.post("/console/partners/new/", create_data(track))
    assert response.status_code == 200
    assert "owner@contoso.example already has an account here." in response.content.decode()
    with schema_context(vendor_a.schema):
        assert not Partner.objects.filter(name="Contoso Managed").exists()


def test_edit_profile_saves_through_the_service(vendor_a):
    with schema_context(vendor_a.schema):
        partner = PartnerFactory(name="Old Name", tax_rate=Decimal("19.00"))
    client, _ = console_client(vendor_a, "channel_manager")
    data = {
        "name": "New Name",
        "external_id": "",
        "country": "AT",
        "currency": "EUR",
        "billing_email": "billing@new.example",
        "tax_rate": "20",
        "billing_address": "Ring 1, Wien",
    }
    response = client.post(f"/console/partners/{partner.pk}/edit/", data)
    assert response.status_code == 302
    with schema_context(vendor_a.schema):
        partner.refresh_from_db()
        entry = AuditEntry.objects.get(action="partner.updated", object_id=str(partner.pk))
    assert (partner.name, partner.country, partner.tax_rate, partner.billing_address) == (
        "New Name",
        "AT",
        Decimal("20.00"),
        "Ring 1, Wien",
    )
    assert (entry.before["tax_rate"], entry.after["tax_rate"]) == ("19.00", "20.00")


@pytest.mark.parametrize("role", ["analyst", "finance", "support", "enablement"])
def test_only_channel_managers_and_admins_sign_or_edit_partners(vendor_a, role):
    with schema_context(vendor_a.schema):
        track = TrackFactory()
        partner = PartnerFactory(name="Keep Me")
    client, _ = console_client(vendor_a, role)
    assert client.get("/console/partners/new/").status_code == 403
    assert client.post("/console/partners/new/", create_data(track)).status_code == 403
    edit = client.post(
        f"/console/partners/{partner.pk}/edit/",
        {"name": "Changed", "country": "DE", "currency": "EUR", "tax_rate": "0"},
    )
    assert edit.status_code == 403
    with schema_context(vendor_a.schema):
        assert not Partner.objects.filter(name="Contoso Managed").exists()
        partner.refresh_from_db()
    assert partner.name == "Keep Me"
    assert client.get(f"/console/partners/{partner.pk}/").status_code == 200
