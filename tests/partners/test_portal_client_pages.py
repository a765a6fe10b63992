"""Portal client pages: create, edit, suspend / reactivate, churn, the per-client page. Roles
below MANAGE_CLIENTS get 403, other partners' clients 404, and nothing changes either way."""

from __future__ import annotations

import datetime
import re

import pytest
from django_tenants.utils import schema_context

from core.models import AuditEntry
from partners.enums import OnboardingStepKind, PartnerStatus
from partners.models import Client, OnboardingProgress, OnboardingStep
from tests.factories import ClientFactory, TrackFactory

from .clients_support import make_partner, portal_as

pytestmark = pytest.mark.django_db

NEW = "/portal/clients/new/"
DAY = "2026-01-01"


def client_state(tv, pk: int) -> tuple:
    with schema_context(tv.schema):
        c = Client.objects.get(pk=pk)
        return (c.name, c.external_id, c.status, c.service_tier, c.started_on, c.ended_on)


def audit_count(tv) -> int:
    with schema_context(tv.schema):
        return AuditEntry.objects.count()


@pytest.fixture
def partner(vendor_a):
    with schema_context(vendor_a.schema):
        track = TrackFactory()
        OnboardingStep.objects.create(
            track=track, kind=OnboardingStepKind.FIRST_CLIENT, title="First client"
        )
    return make_partner(vendor_a, name="Acme IT", track=track, status=PartnerStatus.ONBOARDING)


@pytest.fixture
def rival_client(vendor_a):
    rival = make_partner(vendor_a, name="Rival MSP")
    with schema_context(vendor_a.schema):
        return ClientFactory(partner=rival, name="Rival Co", external_id="R-1")


def test_a_technician_adds_a_client_and_completes_the_onboarding_step(vendor_a, partner):
    tech = portal_as(vendor_a, partner, "technician")
    assert tech.get(NEW).status_code == 200
    response = tech.post(
        NEW,
        {
            "name": " Contoso ",
            "external_id": "CON-1",
            "service_tier": "Premium",
            "started_on": "2026-02-01",
            "status": "trial",
        },
    )
    with schema_context(vendor_a.schema):
        client = Client.objects.get(partner=partner)
        assert response.status_code == 302
        assert response["Location"] == f"/portal/clients/{client.pk}/"
        assert (client.name, client.external_id, client.status, client.service_tier) == (
            "Contoso",
            "CON-1",
            "trial",
            "Premium",
        )
        assert client.started_on == datetime.date(2026, 2, 1) and client.ended_on is None
        entry = AuditEntry.objects.get(action="client.created", object_id=str(client.pk))
        assert entry.after["status"] == "trial"
        assert list(
            OnboardingProgress.objects.filter(partner=partner).values_list("step__kind", flat=True)
        ) == ["first_client"]
    # The client's page shows it as not billed.
    html = tech.get(f"/portal/clients/{client.pk}/").content.decode()
    assert "<strong>Not billed</strong>: trial clients are never billed" in html
    assert "Created as Trial" in html


@pytest.mark.parametrize(
    "data, field_error",
    [
        ({"external_id": "DUP-1"}, "already has the external id “DUP-1”"),
        ({"name": "  "}, "This field is required."),
        ({"status": "churned"}, "Select a valid choice. churned is not one of the available"),
        ({"started_on": "31/12/2026"}, "Enter a valid date."),
    ],
)
def test_bad_input_is_explained_and_saves_nothing(vendor_a, partner, data, field_error):
    with schema_context(vendor_a.schema):
        ClientFactory(partner=partner, external_id="DUP-1")
    tech = portal_as(vendor_a, partner, "technician")
    form = {
        "name": "New",
        "external_id": "NEW-1",
        "service_tier": "",
        "started_on": "2026-02-01",
        "status": "active",
        **data,
    }
    before = audit_count(vendor_a)
    response = tech.post(NEW, form)
    assert response.status_code == 200
    assert field_error in response.content.decode()
    with schema_context(vendor_a.schema):
        assert Client.objects.filter(partner=partner).count() == 1
    assert audit_count(vendor_a) == before


@pytest.mark.parametrize("role", ["viewer", "billing"])
def test_roles_without_manage_clients_get_403_and_change_nothing(vendor_a, partner, role):
    with schema_context(vendor_a.schema):
        client = ClientFactory(partner=partner, name="Kept", external_id="K-1")
    user = portal_as(vendor_a, partner, role)
    before = client_state(vendor_a, client.pk)
    audits = audit_count(vendor_a)
    base = f"/portal/clients/{client.pk}"
    attempts = [
        ("get", NEW, None),
        ("post", NEW, {"name": "X", "external_id": "X", "started_on": "2026-01-01"}),
        ("get", f"{base}/edit/", None),
        ("post", f"{base}/edit/", {"name": "Changed", "external_id": "K-1", "started_on": DAY}),
        ("post", f"{base}/status/", {"to": "suspended"}),
        ("get", f"{base}/churn/", None),
        ("post", f"{base}/churn/", {"ended_on": "2026-03-01"}),
    ]  # fmt: skip
    for method, url, data in attempts:
        response = getattr(user, method)(url, data)
        assert response.status_code == 403, (method, url)
    assert client_state(vendor_a, client.pk) == before
    assert audit_count(vendor_a) == audits
    with schema_context(vendor_a.schema):
        assert Client.objects.filter(partner=partner).count() == 1
    # Reading is fine, without the buttons.
    html = user.get(f"{base}/").content.decode()
    assert "Your role can view this client but not change it." in html
    assert f"{base}/edit/" not in html


def test_another_partners_client_is_404_everywhere_and_unchanged(vendor_a, partner, rival_client):
    owner = portal_as(vendor_a, partner, "owner")
    before = client_state(vendor_a, rival_client.pk)
    audits = audit_count(vendor_a)
    base = f"/portal/clients/{rival_client.pk}"
    for method, url, data in [
        ("get", f"{base}/", None),
        ("get", f"{base}/edit/", None),
        ("post", f"{base}/edit/", {"name": "Mine", "external_id": "R-1", "started_on": DAY}),
        ("post", f"{base}/status/", {"to": "suspended"}),
        ("get", f"{base}/churn/", None),
        ("post", f"{base}/churn/", {"ended_on": "2026-03-01"}),
    ]:  # fmt: skip
        assert getattr(owner, method)(url, data).status_code == 404, (method, url)
    assert client_state(vendor_a, rival_client.pk) == before
    assert audit_count(vendor_a) == audits


def test_edit_saves_the_changes_and_refuses_a_taken_external_id(vendor_a, partner):
    with schema_context(vendor_a.schema):
        client = ClientFactory(partner=partner, name="Old", external_id="O-1", service_tier="")
        ClientFactory(partner=partner, external_id="TAKEN")
    tech = portal_as(vendor_a, partner, "technician")
    url = f"/portal/clients/{client.pk}/edit/"
    html = tech.get(url).content.decode()
    assert 'value="Old"' in html and 'value="2026-01-01"' in html
    response = tech.post(
        url,
        {"name": "New", "external_id": "TAKEN", "service_tier": "", "started_on": "2026-01-01"},
    )
    assert "already has the external id “TAKEN”" in response.content.decode()
    assert client_state(vendor_a, client.pk)[:2] == ("Old", "O-1")
    response = tech.post(
        url,
        {"name": "New", "external_id": "N-1", "service_tier": "Gold", "started_on": "2026-01-02"},
    )
    assert response.status_code == 302
    assert client_state(vendor_a, client.pk) == (
        "New",
        "N-1",
        "active",
        "Gold",
        datetime.date(2026, 1, 2),
        None,
    )
    html = tech.get(f"/portal/clients/{client.pk}/").content.decode()
    assert "Edited external id, name, service tier, started on" in html
    assert "name: Old → New" in html


def test_suspend_reactivate_and_churn_with_a_confirmation(vendor_a, partner):
    with schema_context(vendor_a.schema):
        client = ClientFactory(
            partner=partner, status="trial", started_on=datetime.date(2026, 1, 10)
        )
    tech = portal_as(vendor_a, partner, "technician")
    base = f"/portal/clients/{client.pk}"
    html = tech.get(f"{base}/").content.decode()
    assert "Make active (billed)" in html and ">Suspend<" in html
    assert tech.get(f"{base}/status/").status_code == 405
    assert tech.post(f"{base}/status/", {"to": "suspended"}).status_code == 302
    assert client_state(vendor_a, client.pk)[2] == "suspended"
    assert ">Reactivate<" in tech.get(f"{base}/").content.decode()
    tech.post(f"{base}/status/", {"to": "active"})
    assert client_state(vendor_a, client.pk)[2] == "active"
    # Churn is not a button: it needs its page and a date.
    response = tech.post(f"{base}/status/", {"to": "churned"}, follow=True)
    assert "churning has its own page" in response.content.decode()
    assert client_state(vendor_a, client.pk)[2] == "active"

    page = tech.get(f"{base}/churn/").content.decode()
    assert "This cannot be undone" in page
    response = tech.post(f"{base}/churn/", {"ended_on": "2026-01-09"})
    assert "A client cannot end before it starts." in response.content.decode()
    assert client_state(vendor_a, client.pk)[2] == "active"
    response = tech.post(f"{base}/churn/", {"ended_on": "2026-03-31"})
    assert response.status_code == 302
    _name, _ext, status, _tier, started, ended = client_state(vendor_a, client.pk)
    assert (status, started, ended) == (
        "churned",
        datetime.date(2026, 1, 10),
        datetime.date(2026, 3, 31),
    )
    html = tech.get(f"{base}/").content.decode()
    history = re.findall(r'<td data-label="What">([^<]+)', html)
    assert history == [
        "Status Active → Churned",
        "Status Suspended → Active",
        "Status Trial → Suspended",
        "Imported from a CSV file",
    ]
    assert "ended on 2026-03-31" in html
    assert "churned on 31 Mar 2026" in html
    # A churned client has no more status actions.
    assert tech.get(f"{base}/churn/").status_code == 302


def test_the_client_page_shows_the_empty_sections_later_areas_fill(vendor_a, partner):
    with schema_context(vendor_a.schema):
        client = ClientFactory(partner=partner, status="nfr")
    html = portal_as(vendor_a, partner, "viewer").get(f"/portal/clients/{client.pk}/")
    html = html.content.decode()
    for heading in ("Subscriptions", "Usage", "Margin", "Escalations"):
        assert f'-heading">{heading}</h2>' in html
    # Sections no later area has registered yet show their placeholder.
    from partners.client_sections import SECTIONS, registered_sections

    pending = [key for key, _, _ in SECTIONS if key not in registered_sections()]
    assert html.count("Coming soon") == len(pending)
    assert "not-for-resale clients are never billed" not in html  # the label is used as is
    assert "<strong>Not billed</strong>: not for resale clients are never billed" in html


def test_a_suspended_partners_portal_is_read_only(vendor_a):
    partner = make_partner(vendor_a, status=PartnerStatus.SUSPENDED)
    with schema_context(vendor_a.schema):
        client = ClientFactory(partner=partner)
    owner = portal_as(vendor_a, partner, "owner")
    assert owner.get("/portal/clients/").status_code == 200
    html = owner.get(f"/portal/clients/{client.pk}/").content.decode()
    assert "/edit/" not in html
    data = {"name": "X", "external_id": "X", "started_on": "2026-01-01", "status": "active"}
    assert owner.post(NEW, data).status_code == 403
    assert (
        owner.post(f"/portal/clients/{client.pk}/status/", {"to": "suspended"}).status_code == 403
    )
    with schema_context(vendor_a.schema):
        assert list(Client.objects.filter(partner=partner).values_list("status", flat=True)) == [
            "active"
        ]
