"""/api/v1/clients/: vendor keys see every partner's clients and name the partner of a new one;
a partner key sees and adds its own only, and can never attach a client to another partner."""

from __future__ import annotations

import datetime

import pytest

from core.models import AuditEntry, IdempotencyRecord
from partners.enums import ClientStatus, OnboardingStepKind, PartnerStatus
from partners.models import Client, OnboardingProgress, OnboardingStep, Partner
from tests.partners.api_support import (
    ApiWorld,
    assert_problem,
    build_world,
    make_client,
    patch,
    post,
    state,
)

pytestmark = pytest.mark.django_db

URL = "/api/v1/clients/"
FIELDS = {
    "id",
    "partner",
    "name",
    "external_id",
    "status",
    "service_tier",
    "started_on",
    "ended_on",
    "created_at",
    "updated_at",
}


@pytest.fixture
def world(db, vendor_a) -> ApiWorld:
    world = build_world(vendor_a)
    make_client(world, world.partner_a, name="Acme Bakery", external_id="A-100")
    make_client(
        world, world.partner_a, name="Apex Dental", external_id="A-101", status=ClientStatus.TRIAL
    )
    make_client(world, world.partner_b, name="Bistro Blanc", external_id="B-200")
    return world


def detail(client) -> str:
    return f"{URL}{client.pk}/"


def client_named(world: ApiWorld, name: str) -> Client:
    with world.schema():
        return Client.objects.get(name=name)


def names(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [row["name"] for row in response.json()["results"]]


# --- reading ---------------------------------------------------------------------------------


def test_vendor_key_lists_every_partners_clients(world):
    response = world.vendor.get(URL)
    assert names(response) == ["Bistro Blanc", "Apex Dental", "Acme Bakery"]
    bistro = client_named(world, "Bistro Blanc")
    row = response.json()["results"][0]
    assert set(row) == FIELDS
    assert row == {
        "id": bistro.pk,
        "partner": world.partner_b.pk,
        "name": "Bistro Blanc",
        "external_id": "B-200",
        "status": "active",
        "service_tier": "Essentials",
        "started_on": "2026-01-01",
        "ended_on": None,
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
    }
    assert datetime.datetime.fromisoformat(row["created_at"]) == bistro.created_at


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("partner={a}", ["Apex Dental", "Acme Bakery"]),
        ("partner={b}", ["Bistro Blanc"]),
        ("status=trial", ["Apex Dental"]),
        ("external_id=B-200", ["Bistro Blanc"]),
        ("external_id=b-200", []),
        ("partner={a}&status=active", ["Acme Bakery"]),
    ],
)
def test_filters(world, query, expected):
    url = f"{URL}?{query.format(a=world.partner_a.pk, b=world.partner_b.pk)}"
    assert names(world.vendor.get(url)) == expected


@pytest.mark.parametrize(
    ("query", "field", "code"),
    [("status=gone", "status", "invalid_choice"), ("partner=x", "partner", "invalid")],
)
def test_bad_filter_values_are_400(world, query, field, code):
    body = assert_problem(world.vendor.get(f"{URL}?{query}"), 400)
    assert [(e["field"], e["code"]) for e in body["errors"]] == [(field, code)]


def test_a_partner_key_lists_only_its_own_clients(world):
    assert names(world.key_a.get(URL)) == ["Apex Dental", "Acme Bakery"]
    assert names(world.key_b.get(URL)) == ["Bistro Blanc"]
    assert names(world.key_a.get(f"{URL}?partner={world.partner_b.pk}")) == []
    assert names(world.key_a.get(f"{URL}?external_id=B-200")) == []


def test_another_partners_client_is_404_for_a_partner_key(world):
    bistro = client_named(world, "Bistro Blanc")
    assert world.vendor.get(detail(bistro)).json()["name"] == "Bistro Blanc"
    assert world.key_b.get(detail(bistro)).status_code == 200
    assert_problem(world.key_a.get(detail(bistro)), 404)


def test_pagination_follows_next_with_limit(world):
    first = world.vendor.get(f"{URL}?limit=2").json()
    assert [row["name"] for row in first["results"]] == ["Bistro Blanc", "Apex Dental"]
    second = world.vendor.get(first["next"]).json()
    assert ([row["name"] for row in second["results"]], second["next"]) == (["Acme Bakery"], None)


# --- creating --------------------------------------------------------------------------------

NEW = {
    "name": "Corner Café",
    "external_id": "CC-1",
    "service_tier": "Premium",
    "started_on": "2026-02-15",
}


def test_vendor_key_creates_a_client_for_the_partner_it_names(world):
    response = post(world.vendor, URL, {**NEW, "partner": world.partner_b.pk})
    assert response.status_code == 201, response.content
    body = response.json()
    with world.schema():
        created = Client.objects.get(pk=body["id"])
        audit = AuditEntry.objects.get(action="client.created", object_id=str(created.pk))
    assert body == {
        "id": created.pk,
        "partner": world.partner_b.pk,
        "name": "Corner Café",
        "external_id": "CC-1",
        "status": "active",
        "service_tier": "Premium",
        "started_on": "2026-02-15",
        "ended_on": None,
        "created_at": body["created_at"],
        "updated_at": body["updated_at"],
    }
    assert audit.actor_label == "API key vendor integration"


def test_vendor_keys_must_name_an_existing_partner(world):
    before = state(world)
    missing = assert_problem(post(world.vendor, URL, NEW), 400)
    assert missing["errors"] == [
        {
            "field": "partner",
            "code": "required",
            "message": "Vendor keys name the client's partner.",
        }
    ]
    unknown = assert_problem(post(world.vendor, URL, {**NEW, "partner": 999999}), 400)
    assert unknown["errors"] == [
        {
            "field": "partner",
            "code": "not_found",
            "message": "There is no partner with id 999999.",
        }
    ]
    assert state(world) == before


def test_a_partner_key_adds_clients_to_its_own_partner(world):
    response = post(world.key_a, URL, NEW)
    assert response.status_code == 201, response.content
    assert response.json()["partner"] == world.partner_a.pk
    # Naming its own partner is fine too.
    again = post(world.key_a, URL, {**NEW, "external_id": "CC-2", "partner": world.partner_a.pk})
    assert again.status_code == 201
    with world.schema():
        assert list(
            Client.objects.filter(external_id__startswith="CC-").values_list("partner", flat=True)
        ) == [world.partner_a.pk, world.partner_a.pk]


@pytest.mark.parametrize("target", ["b", "missing"])
def test_a_partner_key_cannot_attach_a_client_to_another_partner(world, target):
    partner_id = world.partner_b.pk if target == "b" else 999999
    before = state(world)
    body = assert_problem(post(world.key_a, URL, {**NEW, "partner": partner_id}), 400)
    # The same answer whether that partner exists or not.
    assert body["errors"] == [
        {
            "field": "partner",
            "code": "invalid",
            "message": "A partner key adds clients to its own partner only.",
        }
    ]
    assert state(world) == before


@pytest.mark.parametrize(
    ("data", "field", "code", "message"),
    [
        (
            {"external_id": "A-100"},
            "external_id",
            "invalid",
            "Another client of Alpha IT already has the external id “A-100”.",
        ),
        ({"name": ""}, "name", "blank", "This field may not be blank."),
        ({"name": "x" * 201}, "name", "invalid", "Name is at most 200 characters."),
        (
            {"status": "churned"},
            "ended_on",
            "required",
            "A churned client needs the date it ended.",
        ),
        (
            {"status": "churned", "ended_on": "2026-01-01"},
            "ended_on",
            "invalid",
            "A client cannot end before it starts.",
        ),
        (
            {"ended_on": "2026-12-31"},
            "ended_on",
            "invalid",
            'An end date is given only with status "churned".',
        ),
        ({"status": "gone"}, "status", "invalid_choice", '"gone" is not a valid choice.'),
        (
            {"started_on": "15.02.2026"},
            "started_on",
            "invalid",
            "Date has wrong format. Use one of these formats instead: YYYY-MM-DD.",
        ),
        ({"id": 5}, "id", "unknown_field", "This field is read-only."),
    ],
)
def test_bad_input_is_400_with_the_field_and_saves_nothing(world, data, field, code, message):
    before = state(world)
    body = assert_problem(post(world.key_a, URL, {**NEW, **data}), 400)
    assert body["errors"] == [{"field": field, "code": code, "message": message}]
    assert state(world) == before


def test_trial_and_nfr_clients_can_be_created(world):
    for status, ext in (("trial", "T-1"), ("nfr", "N-1")):
        body = post(world.key_a, URL, {**NEW, "external_id": ext, "status": status}).json()
        assert body["status"] == status
    with world.schema():
        assert [c.is_billable for c in Client.objects.filter(external_id__in=["T-1", "N-1"])] == [
            False,
            False,
        ]


def test_a_new_client_completes_the_first_client_step_and_activates_the_partner(world):
    with world.schema():
        Partner.objects.filter(pk=world.partner_a.pk).update(status=PartnerStatus.ONBOARDING)
        Client.objects.filter(partner=world.partner_a).delete()
        step = OnboardingStep.objects.create(
            track=world.track, kind=OnboardingStepKind.FIRST_CLIENT, title="First client"
        )
    assert post(world.key_a, URL, NEW).status_code == 201
    with world.schema():
        progress = OnboardingProgress.objects.get(partner=world.partner_a)
        partner = Partner.objects.get(pk=world.partner_a.pk)
    assert (progress.step, progress.completed_by_label) == (step, "API key alpha rmm")
    assert partner.status == PartnerStatus.ACTIVE


def test_a_suspended_partners_key_cannot_add_clients(world):
    with world.schema():
        Partner.objects.filter(pk=world.partner_a.pk).update(status=PartnerStatus.SUSPENDED)
    before = state(world)
    body = assert_problem(post(world.key_a, URL, NEW), 403)
    assert body["detail"] == "Alpha IT is suspended: read-only."
    assert state(world) == before


# --- Idempotency-Key -------------------------------------------------------------------------


def test_the_same_idempotency_key_and_body_replays_the_first_answer(world):
    first = post(world.key_a, URL, NEW, HTTP_IDEMPOTENCY_KEY="import-7")
    assert first.status_code == 201
    after_first = state(world)
    replay = post(world.key_a, URL, NEW, HTTP_IDEMPOTENCY_KEY="import-7")
    assert replay.status_code == 201
    assert replay["Idempotent-Replayed"] == "true"
    assert replay.json() == first.json()
    assert state(world) == after_first
    with world.schema():
        assert Client.objects.filter(external_id="CC-1").count() == 1
        assert IdempotencyRecord.objects.count() == 1


def test_the_same_idempotency_key_with_another_body_is_409(world):
    assert post(world.key_a, URL, NEW, HTTP_IDEMPOTENCY_KEY="import-8").status_code == 201
    before = state(world)
    other = {**NEW, "external_id": "CC-9"}
    assert_problem(post(world.key_a, URL, other, HTTP_IDEMPOTENCY_KEY="import-8"), 409)
    assert state(world) == before


def test_a_replayed_validation_error_creates_nothing_either(world):
    bad = {**NEW, "partner": world.partner_b.pk}
    first = post(world.key_a, URL, bad, HTTP_IDEMPOTENCY_KEY="k-1")
    before = state(world)
    replay = post(world.key_a, URL, bad, HTTP_IDEMPOTENCY_KEY="k-1")
    assert (first.status_code, replay.status_code) == (400, 400)
    assert replay.json() == first.json()
    assert state(world) == before


# --- changing --------------------------------------------------------------------------------


def test_changing_the_profile(world):
    acme = client_named(world, "Acme Bakery")
    response = patch(
        world.key_a,
        detail(acme),
        {"name": "Acme Bakery Ltd", "service_tier": "Premium", "started_on": "2025-12-01"},
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["name"], body["service_tier"], body["started_on"], body["status"]) == (
        "Acme Bakery Ltd",
        "Premium",
        "2025-12-01",
        "active",
    )
    with world.schema():
        audit = AuditEntry.objects.get(action="client.updated", object_id=str(acme.pk))
    assert audit.after == {
        "name": "Acme Bakery Ltd",
        "service_tier": "Premium",
        "started_on": "2025-12-01",
    }


def test_suspend_and_churn_through_status(world):
    acme = client_named(world, "Acme Bakery")
    suspended = patch(world.vendor, detail(acme), {"status": "suspended"})
    assert suspended.json()["status"] == "suspended"
    churned = patch(world.vendor, detail(acme), {"status": "churned", "ended_on": "2026-03-31"})
    assert (churned.json()["status"], churned.json()["ended_on"]) == ("churned", "2026-03-31")
    with world.schema():
        actions = list(
            AuditEntry.objects.filter(object_id=str(acme.pk), object_type="partners.client")
            .order_by("pk")
            .values_list("action", flat=True)
        )
    assert actions == ["client.suspended", "client.churned"]


def test_repeating_the_current_status_changes_nothing(world):
    acme = client_named(world, "Acme Bakery")
    before = state(world)
    response = patch(world.key_a, detail(acme), {"status": "active"})
    assert response.json()["status"] == "active"
    assert state(world) == before


@pytest.mark.parametrize(
    ("setup", "data", "field", "message"),
    [
        (None, {"status": "churned"}, "ended_on", "A churned client needs the date it ended."),
        (
            None,
            {"ended_on": "2026-05-01"},
            "ended_on",
            'An end date is given only with status "churned".',
        ),
        (
            "churned",
            {"status": "active"},
            "",
            "Acme Bakery has churned; create it again if it returns.",
        ),
        (
            "churned",
            {"status": "churned", "ended_on": "2026-06-30"},
            "ended_on",
            "The end date is set when the client churns.",
        ),
        (
            None,
            {"external_id": "A-101"},
            "external_id",
            "Another client of Alpha IT already has the external id “A-101”.",
        ),
        (None, {"name": "  "}, "name", "This field may not be blank."),
        (
            "churned",
            {"started_on": "2026-04-01", "name": "Later"},
            "ended_on",
            "A client cannot end before it starts.",
        ),
    ],
)
def test_bad_changes_are_400_and_change_nothing(world, setup, data, field, message):
    acme = client_named(world, "Acme Bakery")
    if setup == "churned":
        patch(world.vendor, detail(acme), {"status": "churned", "ended_on": "2026-03-31"})
    before = state(world)
    body = assert_problem(patch(world.key_a, detail(acme), data), 400)
    assert [(e["field"], e["message"]) for e in body["errors"]] == [(field, message)]
    assert state(world) == before


def test_a_client_cannot_move_to_another_partner(world):
    acme = client_named(world, "Acme Bakery")
    before = state(world)
    for client in (world.key_a, world.vendor):
        body = assert_problem(patch(client, detail(acme), {"partner": world.partner_b.pk}), 400)
        assert body["errors"] == [
            {
                "field": "partner",
                "code": "invalid",
                "message": "A client cannot move to another partner.",
            }
        ]
    assert state(world) == before
    # Naming its current partner is accepted (a client may send the object back as it got it).
    ok = patch(world.key_a, detail(acme), {"partner": world.partner_a.pk, "name": "Acme 2"})
    assert ok.json()["name"] == "Acme 2"


def test_a_partner_key_cannot_change_another_partners_client(world):
    bistro = client_named(world, "Bistro Blanc")
    before = state(world)
    for data in ({"name": "Mine now"}, {"status": "churned", "ended_on": "2026-03-01"}, {}):
        assert_problem(patch(world.key_a, detail(bistro), data), 404)
    assert state(world) == before


@pytest.mark.parametrize("method", ["put", "delete"])
def test_put_and_delete_are_not_offered(world, method):
    acme = client_named(world, "Acme Bakery")
    before = state(world)
    response = getattr(world.vendor, method)(
        detail(acme), {"name": "x"}, content_type="application/json"
    )
    assert_problem(response, 405)
    assert state(world) == before
