"""/api/v1/partners/: vendor keys see and change every partner; a partner key sees only itself
and may change only its billing contact."""

from __future__ import annotations

import datetime

import pytest

from core.models import AuditEntry
from partners.enums import OnboardingStepKind, PartnerStatus
from partners.models import OnboardingProgress, OnboardingStep, Partner, PartnerStatusChange
from tests.factories import PartnerFactory
from tests.partners.api_support import ApiWorld, assert_problem, build_world, patch, post, state

pytestmark = pytest.mark.django_db

URL = "/api/v1/partners/"
FIELDS = {
    "id",
    "name",
    "external_id",
    "status",
    "status_since",
    "track",
    "tier",
    "tier_id",
    "currency",
    "country",
    "billing_email",
    "billing_address",
    "tax_rate",
    "created_at",
}


@pytest.fixture
def world(db, vendor_a) -> ApiWorld:
    return build_world(vendor_a)


def detail(partner) -> str:
    return f"{URL}{partner.pk}/"


def names(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [row["name"] for row in response.json()["results"]]


# --- reading ---------------------------------------------------------------------------------


def test_vendor_key_lists_every_partner_newest_first_with_the_contract_fields(world):
    response = world.vendor.get(URL)
    assert names(response) == ["Bravo Systems", "Alpha IT"]
    assert response.json()["next"] is None
    row = response.json()["results"][0]
    assert set(row) == FIELDS
    b = world.partner_b
    assert row == {
        "id": b.pk,
        "name": "Bravo Systems",
        "external_id": "BRAVO-1",
        "status": "active",
        "status_since": "2026-01-01",
        "track": "managed",
        "tier": "Gold",
        "tier_id": world.gold.pk,
        "currency": "EUR",
        "country": "FR",
        "billing_email": "billing@bravo.example",
        "billing_address": "",
        "tax_rate": "19.00",
        "created_at": row["created_at"],
    }
    created = datetime.datetime.fromisoformat(row["created_at"])
    assert created.utcoffset() is not None
    assert created == b.created_at


def test_tier_is_null_when_a_partner_has_none(world):
    with world.schema():
        Partner.objects.filter(pk=world.partner_a.pk).update(tier=None)
    body = world.vendor.get(detail(world.partner_a)).json()
    assert (body["tier"], body["tier_id"]) == (None, None)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("status=active", ["Bravo Systems", "Alpha IT"]),
        ("status=suspended", ["Carol Networks"]),
        ("track=managed", ["Bravo Systems", "Alpha IT"]),
        ("track=resell", ["Carol Networks"]),
        ("tier=gold", ["Bravo Systems"]),
        ("tier=Registered", ["Alpha IT"]),
        ("country=fr", ["Bravo Systems"]),
        ("country=DE", ["Carol Networks", "Alpha IT"]),
        ("status=active&country=DE", ["Alpha IT"]),
        ("track=nope", []),
    ],
)
def test_filters(world, query, expected):
    with world.schema():
        PartnerFactory(
            name="Carol Networks", track=world.other_track, status=PartnerStatus.SUSPENDED
        )
    assert names(world.vendor.get(f"{URL}?{query}")) == expected


def test_filter_by_tier_id(world):
    assert names(world.vendor.get(f"{URL}?tier_id={world.gold.pk}")) == ["Bravo Systems"]


@pytest.mark.parametrize(
    ("query", "field", "code"),
    [("status=dormant", "status", "invalid_choice"), ("tier_id=1.5", "tier_id", "invalid")],
)
def test_bad_filter_values_are_400_naming_the_parameter(world, query, field, code):
    body = assert_problem(world.vendor.get(f"{URL}?{query}"), 400)
    assert [(e["field"], e["code"]) for e in body["errors"]] == [(field, code)]


def test_a_partner_key_lists_only_its_own_partner(world):
    assert names(world.key_a.get(URL)) == ["Alpha IT"]
    assert names(world.key_b.get(URL)) == ["Bravo Systems"]
    # Filters cannot widen the scope.
    assert names(world.key_a.get(f"{URL}?country=FR")) == []
    assert names(world.key_a.get(f"{URL}?tier=Gold")) == []


def test_retrieve(world):
    assert world.vendor.get(detail(world.partner_a)).json()["name"] == "Alpha IT"
    own = world.key_a.get(detail(world.partner_a))
    assert own.status_code == 200
    assert set(own.json()) == FIELDS


def test_another_partner_is_404_for_a_partner_key_never_403(world):
    body = assert_problem(world.key_a.get(detail(world.partner_b)), 404)
    assert body["title"] == "Not found"
    assert_problem(world.vendor.get(f"{URL}999999/"), 404)


# --- creating --------------------------------------------------------------------------------

NEW = {
    "name": "Delta Managed IT",
    "external_id": "DELTA-9",
    "track": "managed",
    "currency": "usd",
    "country": "us",
    "billing_email": "AP@Delta.example",
    "billing_address": "1 Main St, Springfield",
    "tax_rate": "7.25",
}


def test_vendor_key_creates_a_partner_in_the_entry_tier(world):
    with world.schema():
        OnboardingStep.objects.create(
            track=world.track, kind=OnboardingStepKind.CUSTOM, title="Kick-off call"
        )
    response = post(world.vendor, URL, NEW)
    assert response.status_code == 201, response.content
    body = response.json()
    with world.schema():
        partner = Partner.objects.get(pk=body["id"])
        audit = AuditEntry.objects.get(action="partner.created", object_id=str(partner.pk))
        change = PartnerStatusChange.objects.get(partner=partner)
    assert body == {
        "id": partner.pk,
        "name": "Delta Managed IT",
        "external_id": "DELTA-9",
        "status": "onboarding",
        "status_since": partner.status_since.isoformat(),
        "track": "managed",
        "tier": "Registered",
        "tier_id": world.registered.pk,
        "currency": "USD",
        "country": "US",
        "billing_email": "ap@delta.example",
        "billing_address": "1 Main St, Springfield",
        "tax_rate": "7.25",
        "created_at": body["created_at"],
    }
    assert (audit.actor_kind, audit.actor_label) == ("api_key", "API key vendor integration")
    assert (change.from_status, change.to_status) == ("", "onboarding")


def test_on_a_track_without_a_checklist_a_new_partner_is_active_at_once(world):
    body = post(world.vendor, URL, NEW).json()
    assert body["status"] == "active"
    with world.schema():
        changes = PartnerStatusChange.objects.filter(partner_id=body["id"])
        assert [(c.from_status, c.to_status) for c in changes.order_by("pk")] == [
            ("", "onboarding"),
            ("onboarding", "active"),
        ]


def test_create_refreshes_onboarding(world):
    """A complete billing profile is recorded as a done step at once; the partner stays in
    onboarding while another required step is open."""
    with world.schema():
        billing = OnboardingStep.objects.create(
            track=world.track, kind=OnboardingStepKind.BILLING_PROFILE, title="Billing"
        )
        OnboardingStep.objects.create(
            track=world.track, kind=OnboardingStepKind.FIRST_CLIENT, title="First client"
        )
    body = post(world.vendor, URL, NEW).json()
    with world.schema():
        done = list(OnboardingProgress.objects.filter(partner_id=body["id"]).values_list("step"))
    assert done == [(billing.pk,)]
    assert body["status"] == "onboarding"


def test_create_validation_errors_name_each_field_and_save_nothing(world):
    before = state(world)
    response = post(
        world.vendor,
        URL,
        {"name": "  ", "track": "nope", "currency": "EUR", "tier": "Gold", "colour": "red"},
    )
    body = assert_problem(response, 400)
    assert body["title"] == "Validation failed"
    assert [(e["field"], e["code"], e["message"]) for e in body["errors"]] == [
        ("colour", "unknown_field", "Unknown field, or one that cannot be set here."),
        ("tier", "unknown_field", "This field is read-only."),
        ("name", "blank", "This field may not be blank."),
        ("track", "does_not_exist", "Object with slug=nope does not exist."),
        ("country", "required", "This field is required."),
    ]
    assert state(world) == before


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"currency": "XYZ"}, "currency", "“XYZ” is not an ISO 4217 currency code."),
        ({"country": "XX"}, "country", "“XX” is not an ISO 3166 country code (e.g. DE)."),
        ({"billing_email": "nope"}, "billing_email", "Enter a valid billing email."),
        (
            {"tax_rate": "19.125"},
            "tax_rate",
            "The tax rate is a percentage between 0 and 100 with at most two decimals.",
        ),
        (
            {"external_id": "BRAVO-1"},
            "external_id",
            "Another partner already has the external id “BRAVO-1”.",
        ),
        ({"status": "suspended"}, "status", '"suspended" is not a valid choice.'),
    ],
)
def test_create_rule_errors_come_from_the_service(world, change, field, message):
    before = state(world)
    body = assert_problem(post(world.vendor, URL, {**NEW, **change}), 400)
    assert [(e["field"], e["message"]) for e in body["errors"]] == [(field, message)]
    assert body["detail"] == f"{field}: {message}"
    assert state(world) == before


def test_a_body_that_is_not_an_object_is_400(world):
    body = assert_problem(post(world.vendor, URL, [NEW]), 400)
    assert body["errors"][0]["field"] == ""


def test_a_partner_key_cannot_create_partners(world):
    before = state(world)
    body = assert_problem(post(world.key_a, URL, NEW), 403)
    assert body["detail"] == "Partner keys cannot create partners."
    assert state(world) == before


# --- changing --------------------------------------------------------------------------------


def test_vendor_key_changes_the_profile(world):
    response = patch(
        world.vendor,
        detail(world.partner_a),
        {"name": "Alpha IT GmbH", "tax_rate": "16.00", "currency": "chf", "external_id": "A-2"},
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["name"], body["tax_rate"], body["currency"], body["external_id"]) == (
        "Alpha IT GmbH",
        "16.00",
        "CHF",
        "A-2",
    )
    with world.schema():
        audit = AuditEntry.objects.get(action="partner.updated")
    assert audit.after == {
        "name": "Alpha IT GmbH",
        "tax_rate": "16.00",
        "currency": "CHF",
        "external_id": "A-2",
    }


def test_vendor_key_suspends_with_a_reason_and_date(world):
    response = patch(
        world.vendor,
        detail(world.partner_a),
        {
            "status": "suspended",
            "status_reason": "Unpaid invoices",
            "status_effective_on": "2026-04-01",
        },
    )
    assert response.status_code == 200, response.content
    assert (response.json()["status"], response.json()["status_since"]) == (
        "suspended",
        "2026-04-01",
    )
    with world.schema():
        change = PartnerStatusChange.objects.filter(partner=world.partner_a).get()
    assert (change.from_status, change.to_status, change.reason, change.effective_on) == (
        "active",
        "suspended",
        "Unpaid invoices",
        datetime.date(2026, 4, 1),
    )


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"status": "suspended"}, "status_reason", "Give a reason."),
        (
            {"status": "applied", "status_reason": "x"},
            "status",
            "A partner that is active cannot become applied.",
        ),
        ({"status_reason": "why"}, "status_reason", "Only together with `status`."),
        ({"status": "sleeping"}, "status", '"sleeping" is not a valid choice.'),
        ({"tier": "Gold"}, "tier", "This field is read-only."),
        ({"track": "resell"}, "track", "This field is read-only."),
        ({"name": ""}, "name", "This field may not be blank."),
        ({"tax_rate": "abc"}, "tax_rate", "The tax rate is a percentage, e.g. 19.00."),
    ],
)
def test_bad_changes_are_400_and_change_nothing(world, data, field, message):
    before = state(world)
    body = assert_problem(patch(world.vendor, detail(world.partner_a), data), 400)
    assert [(e["field"], e["message"]) for e in body["errors"]] == [(field, message)]
    assert state(world) == before


def test_profile_and_status_change_together_or_not_at_all(world):
    before = state(world)
    response = patch(
        world.vendor, detail(world.partner_a), {"name": "Renamed", "status": "terminated"}
    )
    body = assert_problem(response, 400)
    assert body["errors"] == [
        {"field": "status_reason", "code": "invalid", "message": "Give a reason."}
    ]
    assert state(world) == before


def test_a_partner_key_changes_its_own_billing_contact(world):
    response = patch(
        world.key_a,
        detail(world.partner_a),
        {"billing_email": "Invoices@Alpha.example", "country": "at", "billing_address": "Wien"},
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["billing_email"], body["country"], body["billing_address"]) == (
        "invoices@alpha.example",
        "AT",
        "Wien",
    )
    with world.schema():
        audit = AuditEntry.objects.get(action="partner.updated")
    assert audit.actor_label == "API key alpha rmm"


def test_completing_the_billing_profile_by_api_activates_an_onboarding_partner(world):
    with world.schema():
        Partner.objects.filter(pk=world.partner_a.pk).update(status=PartnerStatus.ONBOARDING)
        OnboardingStep.objects.create(
            track=world.track, kind=OnboardingStepKind.BILLING_PROFILE, title="Billing"
        )
    response = patch(world.key_a, detail(world.partner_a), {"billing_address": "Hauptstr. 1"})
    assert response.json()["status"] == "active"
    with world.schema():
        change = PartnerStatusChange.objects.get(partner=world.partner_a)
    assert (change.from_status, change.to_status) == ("onboarding", "active")


@pytest.mark.parametrize(
    "data",
    [
        {"name": "Alpha Renamed"},
        {"status": "terminated", "status_reason": "bye"},
        {"tax_rate": "0"},
        {"billing_email": "x@alpha.example", "currency": "USD"},
    ],
)
def test_a_partner_key_may_not_change_other_fields(world, data):
    before = state(world)
    body = assert_problem(patch(world.key_a, detail(world.partner_a), data), 403)
    assert body["detail"].startswith(
        "Partner keys may change only billing_address, billing_email, country; not "
    )
    assert state(world) == before


def test_a_partner_key_gets_404_for_another_partner_whatever_it_sends(world):
    before = state(world)
    for data in ({"billing_email": "x@bravo.example"}, {"name": "Taken over"}, {}):
        assert_problem(patch(world.key_a, detail(world.partner_b), data), 404)
    assert state(world) == before


def test_a_suspended_partners_key_is_read_only(world):
    with world.schema():
        Partner.objects.filter(pk=world.partner_a.pk).update(status=PartnerStatus.SUSPENDED)
    before = state(world)
    body = assert_problem(
        patch(world.key_a, detail(world.partner_a), {"billing_email": "x@alpha.example"}), 403
    )
    assert body["detail"] == "Alpha IT is suspended: read-only."
    assert state(world) == before
    assert world.key_a.get(detail(world.partner_a)).status_code == 200


@pytest.mark.parametrize("method", ["put", "delete"])
def test_put_and_delete_are_not_offered(world, method):
    before = state(world)
    response = getattr(world.vendor, method)(
        detail(world.partner_a), {"name": "x"}, content_type="application/json"
    )
    assert_problem(response, 405)
    assert state(world) == before
