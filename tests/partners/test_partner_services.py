"""Partner and client services: validation, lifecycle, audit, nothing half-written."""

import datetime
from decimal import Decimal

import pytest
from django_tenants.utils import schema_context

from core.actors import Actor
from core.models import AuditEntry
from partners.enums import ClientStatus, PartnerStatus
from partners.errors import PartnerError
from partners.models import Client, Partner, PartnerStatusChange
from partners.services.clients import client_change_status, client_create, client_update
from partners.services.partners import partner_change_status, partner_create, partner_update
from tests.factories import ClientFactory, PartnerFactory, TierFactory, TrackFactory

pytestmark = pytest.mark.django_db
ACTOR = Actor.system("tests")


@pytest.fixture
def tenant(vendor_a):
    with schema_context(vendor_a.schema):
        yield vendor_a


def test_partner_create_normalises_and_starts_in_the_entry_tier(tenant):
    track = TrackFactory()
    TierFactory(track=track, rank=2, name="Silver")
    entry = TierFactory(track=track, rank=1, name="Registered")
    partner = partner_create(
        name=" Northwind IT ",
        track=track,
        currency="eur",
        country="de",
        billing_email="Billing@Northwind.example",
        tax_rate="19",
        external_id="NW-1",
        actor=ACTOR,
    )
    assert (partner.name, partner.currency, partner.country, partner.billing_email) == (
        "Northwind IT",
        "EUR",
        "DE",
        "billing@northwind.example",
    )
    assert partner.tax_rate == Decimal("19.00")
    assert partner.tier == entry
    assert partner.status == PartnerStatus.ONBOARDING
    change = PartnerStatusChange.objects.get(partner=partner)
    assert (change.from_status, change.to_status) == ("", "onboarding")
    assert (
        AuditEntry.objects.filter(action="partner.created", object_id=str(partner.pk)).count() == 1
    )


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"name": "  "}, "name"),
        ({"currency": "EURO"}, "currency"),
        ({"currency": "XYZ"}, "currency"),
        ({"country": "XX"}, "country"),
        ({"billing_email": "nope"}, "billing_email"),
        ({"tax_rate": "101"}, "tax_rate"),
        ({"tax_rate": "-1"}, "tax_rate"),
        ({"tax_rate": "19.123"}, "tax_rate"),
        ({"tax_rate": "abc"}, "tax_rate"),
    ],
)
def test_partner_create_rejects_bad_input_and_saves_nothing(tenant, change, field):
    track = TrackFactory()
    before = (Partner.objects.count(), AuditEntry.objects.count())
    args = {"name": "X", "track": track, "currency": "EUR", "country": "DE", "actor": ACTOR}
    with pytest.raises(PartnerError) as error:
        partner_create(**{**args, **change})
    assert error.value.field == field
    assert (Partner.objects.count(), AuditEntry.objects.count()) == before


def test_external_ids_are_unique_among_partners(tenant):
    PartnerFactory(external_id="NW-1")
    other = PartnerFactory()
    with pytest.raises(PartnerError, match="already has the external id"):
        partner_update(partner=other, external_id="NW-1", actor=ACTOR)
    other.refresh_from_db()
    assert other.external_id == ""


def test_lifecycle_transitions_keep_history_and_refuse_illegal_moves(tenant):
    partner = PartnerFactory(status=PartnerStatus.ACTIVE)
    with pytest.raises(PartnerError, match="Give a reason"):
        partner_change_status(partner=partner, to_status="suspended", reason=" ", actor=ACTOR)
    partner_change_status(
        partner=partner,
        to_status="suspended",
        reason="Unpaid invoices",
        effective_on=datetime.date(2026, 11, 30),
        actor=ACTOR,
    )
    partner.refresh_from_db()
    assert (partner.status, partner.status_since, partner.is_read_only) == (
        "suspended",
        datetime.date(2026, 11, 30),
        True,
    )
    partner_change_status(partner=partner, to_status="terminated", reason="Left", actor=ACTOR)
    with pytest.raises(PartnerError, match="cannot become active"):
        partner_change_status(partner=partner, to_status="active", reason="", actor=ACTOR)
    history = list(
        PartnerStatusChange.objects.filter(partner=partner).values_list("from_status", "to_status")
    )
    assert history == [("suspended", "terminated"), ("active", "suspended")]
    assert (
        AuditEntry.objects.filter(object_id=str(partner.pk), object_type="partners.partner")
        .values_list("action", flat=True)
        .count()
        == 2
    )


def test_client_create_and_unique_external_id_per_partner(tenant):
    a, b = PartnerFactory(), PartnerFactory()
    client = client_create(
        partner=a,
        name="Contoso",
        external_id="C-1",
        actor=ACTOR,
        started_on=datetime.date(2026, 3, 1),
    )
    assert (client.status, client.started_on) == ("active", datetime.date(2026, 3, 1))
    # The same external id is fine at another partner…
    client_create(partner=b, name="Contoso", external_id="C-1", actor=ACTOR)
    # …but not twice at one.
    with pytest.raises(PartnerError) as error:
        client_create(partner=a, name="Other", external_id="C-1", actor=ACTOR)
    assert error.value.field == "external_id"
    assert Client.objects.filter(partner=a).count() == 1


def test_client_churn_needs_a_date_not_before_the_start_and_is_final(tenant):
    client = ClientFactory(started_on=datetime.date(2026, 5, 1))
    with pytest.raises(PartnerError, match="cannot end before it starts"):
        client_change_status(
            client=client, to_status="churned", ended_on=datetime.date(2026, 4, 1), actor=ACTOR
        )
    client_change_status(
        client=client, to_status="churned", ended_on=datetime.date(2026, 10, 31), actor=ACTOR
    )
    client.refresh_from_db()
    assert (client.status, client.ended_on) == (ClientStatus.CHURNED, datetime.date(2026, 10, 31))
    with pytest.raises(PartnerError, match="has churned"):
        client_change_status(client=client, to_status="active", actor=ACTOR)


def test_client_update_refuses_status_and_unknown_fields(tenant):
    client = ClientFactory()
    with pytest.raises(PartnerError, match="cannot be changed here: status"):
        client_update(client=client, status="trial", actor=ACTOR)
    updated = client_update(client=client, name="Renamed", service_tier="Premium", actor=ACTOR)
    assert (updated.name, updated.service_tier) == ("Renamed", "Premium")
    entry = AuditEntry.objects.get(action="client.updated", object_id=str(client.pk))
    assert entry.after == {"name": "Renamed", "service_tier": "Premium"}


def test_trial_and_nfr_clients_are_not_billable(tenant):
    assert [ClientFactory(status=s).is_billable for s in ClientStatus.values] == [
        False,
        True,
        False,
        True,
        True,
    ]


def test_billing_address_line_breaks_are_normalised(tenant):
    partner = PartnerFactory()
    updated = partner_update(
        partner=partner, billing_address="  Ring 1\r\n1010 Wien\r\n", actor=ACTOR
    )
    assert updated.billing_address == "Ring 1\n1010 Wien"
