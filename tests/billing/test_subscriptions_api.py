"""/api/v1/subscriptions/ and quantity-changes/: exact JSON, vendor vs partner keys (others'
subscriptions 404, others' clients 400 with nothing saved), field errors, filters, constant
query counts."""

from __future__ import annotations

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import schema_context

from billing.models import PricePlan, SeatQuantityChange, Subscription
from billing.services.catalog import price_plan_create
from billing.services.subscriptions import subscription_create
from core.actors import Actor
from core.api.problems import PROBLEM_CONTENT_TYPE
from core.models import AuditEntry
from partners.enums import PartnerStatus
from partners.models import Partner
from tests.conftest import host_client, make_api_key
from tests.factories import ClientFactory, PartnerFactory

pytestmark = pytest.mark.django_db

ACTOR = Actor.system("subscription api tests")
D = datetime.date
SEATS = [{"seats": True, "model": "per_unit", "unit_price": "3", "counting_rule": "average"}]


class World:
    pass


@pytest.fixture
def world(vendor_a) -> World:
    w = World()
    w.tv = vendor_a
    with schema_context(vendor_a.schema):
        w.alpha = PartnerFactory(name="Alpha IT", currency="EUR")
        w.bravo = PartnerFactory(name="Bravo Systems", currency="EUR")
        w.kiwi = ClientFactory(partner=w.alpha, name="Kiwi GmbH", started_on=D(2026, 1, 1))
        w.lime = ClientFactory(partner=w.alpha, name="Lime AG", started_on=D(2026, 1, 1))
        w.mango = ClientFactory(partner=w.bravo, name="Mango SA", started_on=D(2026, 1, 1))
        for code, currency in (("seats-eur", "EUR"), ("seats-usd", "USD")):
            price_plan_create(
                code=code,
                name=code,
                currency=currency,
                charges=SEATS,
                effective_from=D(2026, 1, 1),
                actor=ACTOR,
            )
        w.plan = PricePlan.objects.get(code="seats-eur")
        w.sub_kiwi = subscription_create(
            client=w.kiwi, price_plan=w.plan, quantity=10, started_on=D(2026, 2, 1), actor=ACTOR
        )
        w.sub_mango = subscription_create(
            client=w.mango, price_plan=w.plan, quantity=4, started_on=D(2026, 3, 1), actor=ACTOR
        )
    w.vendor = host_client(
        vendor_a.host, HTTP_AUTHORIZATION=f"Bearer {make_api_key(vendor_a, 'vendor')}"
    )
    w.key_a = host_client(
        vendor_a.host,
        HTTP_AUTHORIZATION=f"Bearer {make_api_key(vendor_a, 'alpha', partner_id=w.alpha.pk)}",
    )
    return w


def post(client, url, data):
    return client.post(url, data, content_type="application/json")


def errors_of(response, status: int = 400) -> list[dict]:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == PROBLEM_CONTENT_TYPE
    return response.json()["errors"]


def state(w: World) -> dict:
    with schema_context(w.tv.schema):
        return {
            "subscriptions": list(Subscription.objects.order_by("pk").values()),
            "changes": list(SeatQuantityChange.objects.order_by("pk").values()),
            "audit": AuditEntry.objects.count(),
        }


def plain(row: dict) -> dict:
    assert row.pop("created_at")
    return row


def sub_json(sub_id, client_id, quantity, started_on, ended_on=None, plan="seats-eur") -> dict:
    return {
        "id": sub_id,
        "client": client_id,
        "price_plan": plan,
        "quantity": quantity,
        "started_on": started_on,
        "ended_on": ended_on,
    }


# --- reads -----------------------------------------------------------------------------------


def test_vendor_lists_everything_and_filters_by_client_and_partner(world):
    w = world
    everything = [
        sub_json(w.sub_kiwi.pk, w.kiwi.pk, 10, "2026-02-01"),
        sub_json(w.sub_mango.pk, w.mango.pk, 4, "2026-03-01"),
    ]
    body = w.vendor.get("/api/v1/subscriptions/").json()
    assert [plain(r) for r in body["results"]] == everything
    assert body["next"] is None
    by_client = w.vendor.get(f"/api/v1/subscriptions/?client={w.mango.pk}").json()["results"]
    by_partner = w.vendor.get(f"/api/v1/subscriptions/?partner={w.alpha.pk}").json()["results"]
    assert [r["id"] for r in by_client] == [w.sub_mango.pk]
    assert [r["id"] for r in by_partner] == [w.sub_kiwi.pk]
    assert errors_of(w.vendor.get("/api/v1/subscriptions/?client=x")) == [
        {"field": "client", "code": "invalid", "message": "Enter a whole number."}
    ]


def test_a_partner_key_sees_only_its_clients_subscriptions(world):
    w = world
    mine = [sub_json(w.sub_kiwi.pk, w.kiwi.pk, 10, "2026-02-01")]
    for query in ("", f"?partner={w.bravo.pk}", f"?client={w.mango.pk}"):
        rows = w.key_a.get(f"/api/v1/subscriptions/{query}").json()["results"]
        assert [plain(r) for r in rows] == (mine if query == "" else [])
    assert plain(w.key_a.get(f"/api/v1/subscriptions/{w.sub_kiwi.pk}/").json()) == mine[0]
    for url in (
        f"/api/v1/subscriptions/{w.sub_mango.pk}/",
        f"/api/v1/subscriptions/{w.sub_mango.pk}/quantity-changes/",
    ):
        response = w.key_a.get(url)
        assert response.status_code == 404
        assert "Mango" not in response.content.decode()


def test_quantity_changes_list_in_effective_order(world):
    w = world
    url = f"/api/v1/subscriptions/{w.sub_kiwi.pk}/quantity-changes/"
    for quantity, day in ((30, "2026-04-01"), (12, "2026-03-01")):
        assert post(w.key_a, url, {"quantity": quantity, "effective_on": day}).status_code == 201
    body = w.key_a.get(url).json()
    assert [plain(r) for r in body["results"]] == [
        {"quantity": 10, "effective_on": "2026-02-01"},
        {"quantity": 12, "effective_on": "2026-03-01"},
        {"quantity": 30, "effective_on": "2026-04-01"},
    ]
    assert body["next"] is None
    page = w.key_a.get(url + "?limit=2").json()
    assert [r["effective_on"] for r in page["results"]] == ["2026-02-01", "2026-03-01"]
    rest = w.key_a.get(page["next"]).json()
    assert [r["effective_on"] for r in rest["results"]] == ["2026-04-01"]


# --- creates ---------------------------------------------------------------------------------


def test_vendor_creates_a_subscription(world):
    w = world
    response = post(
        w.vendor,
        "/api/v1/subscriptions/",
        {
            "client": w.lime.pk,
            "price_plan": "seats-eur",
            "quantity": 25,
            "started_on": "2026-03-01",
            "ended_on": "2026-12-31",
        },
    )
    assert response.status_code == 201, response.content
    body = plain(response.json())
    with schema_context(w.tv.schema):
        created = Subscription.objects.get(client=w.lime)
        assert list(created.quantity_changes.values_list("effective_on", "quantity")) == [
            (D(2026, 3, 1), 25)
        ]
    assert body == sub_json(created.pk, w.lime.pk, 25, "2026-03-01", "2026-12-31")


def test_a_partner_key_creates_for_its_own_client(world):
    w = world
    body = {
        "client": w.lime.pk,
        "price_plan": "seats-eur",
        "quantity": 2,
        "started_on": "2026-05-01",
    }
    response = post(w.key_a, "/api/v1/subscriptions/", body)
    assert response.status_code == 201, response.content
    assert plain(response.json())["client"] == w.lime.pk


def test_a_partner_key_naming_another_partners_client_gets_400_and_nothing_is_saved(world):
    w = world
    before = state(w)
    for client_id in (w.mango.pk, 999_999):
        body = {
            "client": client_id,
            "price_plan": "seats-eur",
            "quantity": 2,
            "started_on": "2026-05-01",
        }
        assert errors_of(post(w.key_a, "/api/v1/subscriptions/", body)) == [
            {
                "field": "client",
                "code": "not_found",
                "message": f"There is no client with id {client_id}.",
            }
        ]
    assert state(w) == before


def test_a_suspended_partners_key_cannot_write(world):
    w = world
    with schema_context(w.tv.schema):
        Partner.objects.filter(pk=w.alpha.pk).update(status=PartnerStatus.SUSPENDED)
    before = state(w)
    body = {
        "client": w.lime.pk,
        "price_plan": "seats-eur",
        "quantity": 2,
        "started_on": "2026-05-01",
    }
    assert post(w.key_a, "/api/v1/subscriptions/", body).status_code == 403
    url = f"/api/v1/subscriptions/{w.sub_kiwi.pk}/quantity-changes/"
    assert post(w.key_a, url, {"quantity": 3, "effective_on": "2026-03-01"}).status_code == 403
    assert state(w) == before


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        (
            {"price_plan": "nope"},
            [
                {
                    "field": "price_plan",
                    "code": "not_found",
                    "message": "There is no price plan with that code.",
                }
            ],
        ),
        (
            {"price_plan": "seats-usd"},
            [
                {
                    "field": "price_plan",
                    "code": "invalid",
                    "message": "The plan seats-usd is priced in USD, but Alpha IT is billed in "
                    "EUR: choose a EUR plan.",
                }
            ],
        ),
        (
            {"quantity": -1},
            [
                {
                    "field": "quantity",
                    "code": "invalid",
                    "message": "A seat quantity cannot be negative.",
                }
            ],
        ),
        (
            {"started_on": "2025-12-31"},
            [
                {
                    "field": "started_on",
                    "code": "invalid",
                    "message": "Lime AG started on 2026-01-01: a subscription cannot start before "
                    "its client.",
                }
            ],
        ),
        (
            {"ended_on": "2026-02-01"},
            [
                {
                    "field": "ended_on",
                    "code": "invalid",
                    "message": "A subscription cannot end before it starts.",
                }
            ],
        ),
        (
            {"quantity": "many", "started_on": "soon", "id": 5},
            [
                {"field": "id", "code": "unknown_field", "message": "This field is read-only."},
                {"field": "quantity", "code": "invalid", "message": "A valid integer is required."},
                {
                    "field": "started_on",
                    "code": "invalid",
                    "message": "Date has wrong format. Use one of these formats instead: "
                    "YYYY-MM-DD.",
                },
            ],
        ),
    ],
)
def test_create_field_errors_save_nothing(world, body, errors):
    w = world
    before = state(w)
    full = {
        "client": w.lime.pk,
        "price_plan": "seats-eur",
        "quantity": 2,
        "started_on": "2026-03-01",
    }
    response = post(w.vendor, "/api/v1/subscriptions/", {**full, **body})
    assert sorted(errors_of(response), key=lambda e: e["field"]) == errors
    assert state(w) == before


def test_an_overlapping_subscription_is_a_field_error(world):
    w = world
    before = state(w)
    body = {
        "client": w.kiwi.pk,
        "price_plan": "seats-eur",
        "quantity": 2,
        "started_on": "2026-06-01",
    }
    assert errors_of(post(w.vendor, "/api/v1/subscriptions/", body)) == [
        {
            "field": "started_on",
            "code": "invalid",
            "message": f"Kiwi GmbH is already subscribed to seats-eur from 2026-02-01 "
            f"(subscription {w.sub_kiwi.pk}).",
        }
    ]
    assert state(w) == before


# --- quantity changes ------------------------------------------------------------------------


def test_post_a_change_then_replace_it_the_same_day(world):
    w = world
    url = f"/api/v1/subscriptions/{w.sub_kiwi.pk}/quantity-changes/"
    first = post(w.vendor, url, {"quantity": 40, "effective_on": "2026-03-15"})
    assert first.status_code == 201, first.content
    assert plain(first.json()) == {"quantity": 40, "effective_on": "2026-03-15"}
    second = post(w.vendor, url, {"quantity": 35, "effective_on": "2026-03-15"})
    assert plain(second.json()) == {"quantity": 35, "effective_on": "2026-03-15"}
    detail = w.vendor.get(f"/api/v1/subscriptions/{w.sub_kiwi.pk}/").json()
    assert detail["quantity"] == 35
    with schema_context(w.tv.schema):
        assert list(
            SeatQuantityChange.objects.filter(subscription=w.sub_kiwi)
            .order_by("pk")
            .values_list("effective_on", "quantity")
        ) == [(D(2026, 2, 1), 10), (D(2026, 3, 15), 35)]


def test_change_errors_and_other_partners_subscriptions(world):
    w = world
    url = f"/api/v1/subscriptions/{w.sub_kiwi.pk}/quantity-changes/"
    before = state(w)
    assert errors_of(post(w.key_a, url, {"quantity": 3, "effective_on": "2026-01-31"})) == [
        {
            "field": "effective_on",
            "code": "invalid",
            "message": "The subscription starts on 2026-02-01: a change cannot take effect "
            "before that.",
        }
    ]
    assert errors_of(post(w.key_a, url, {"quantity": -3, "effective_on": "2026-03-01"})) == [
        {"field": "quantity", "code": "invalid", "message": "A seat quantity cannot be negative."}
    ]
    assert errors_of(post(w.key_a, url, {"effective_on": "2026-03-01"})) == [
        {"field": "quantity", "code": "required", "message": "This field is required."}
    ]
    other = f"/api/v1/subscriptions/{w.sub_mango.pk}/quantity-changes/"
    assert post(w.key_a, other, {"quantity": 3, "effective_on": "2026-03-05"}).status_code == 404
    assert state(w) == before


# --- query counts ----------------------------------------------------------------------------


@pytest.mark.parametrize("key", ["vendor", "key_a"])
def test_list_queries_do_not_grow_with_rows(world, key, django_assert_max_num_queries):
    w = world
    client = getattr(w, key)
    url = "/api/v1/subscriptions/?limit=500"

    def add(n: int) -> None:
        with schema_context(w.tv.schema):
            for i in range(n):
                partner = w.alpha if i % 2 else w.bravo
                subscription_create(
                    client=ClientFactory(partner=partner, started_on=D(2026, 1, 1)),
                    price_plan=w.plan,
                    quantity=i,
                    started_on=D(2026, 1, 1),
                    actor=ACTOR,
                )

    add(4)
    client.get(url)  # the key's first use records last_used_at once
    with CaptureQueriesContext(connection) as few:
        rows_few = len(client.get(url).json()["results"])
    add(30)
    with django_assert_max_num_queries(3), CaptureQueriesContext(connection) as many:
        rows_many = len(client.get(url).json()["results"])
    assert len(many) == len(few)
    assert rows_many > rows_few
