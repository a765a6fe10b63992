"""/api/v1/webhook-endpoints/: vendor keys manage endpoints and read their deliveries; partner keys
and other vendors' keys see nothing; errors are problem+json; the schema describes it all."""

from __future__ import annotations

import pytest
from django_tenants.utils import schema_context

from core.actors import Actor
from tests.conftest import host_client, make_api_key
from tests.factories import PartnerFactory
from webhooks.models import WebhookDelivery, WebhookEndpoint
from webhooks.services.endpoints import webhook_endpoint_create
from webhooks.services.events import webhook_events_emit

pytestmark = pytest.mark.django_db
ACTOR = Actor.system("webhook tests")
URL = "/api/v1/webhook-endpoints/"


@pytest.fixture
def endpoint(vendor_a):
    with schema_context(vendor_a.schema):
        return webhook_endpoint_create(
            url="https://hooks.example.com/a", event_types=["invoice.paid"], actor=ACTOR
        )


@pytest.fixture
def partner_api(vendor_a):
    with schema_context(vendor_a.schema):
        partner = PartnerFactory(name="Key Partner")
    key = make_api_key(vendor_a, name="partner key", partner_id=partner.pk)
    return host_client(vendor_a.host, HTTP_AUTHORIZATION=f"Bearer {key}")


def snapshot(tv) -> list:
    with schema_context(tv.schema):
        return [
            list(WebhookEndpoint.objects.order_by("pk").values()),
            list(WebhookDelivery.objects.order_by("pk").values()),
        ]


def test_create_returns_the_secret_once_then_get_patch_delete(api_a, vendor_a):
    response = api_a.post(
        URL,
        {
            "url": "https://crm.example.com/hooks",
            "description": "CRM",
            "event_types": ["invoice.paid", "partner.approved"],
        },
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY="create-hook-1",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    with schema_context(vendor_a.schema):
        created = WebhookEndpoint.objects.get()
    assert body == {
        "id": created.pk,
        "url": "https://crm.example.com/hooks",
        "description": "CRM",
        "event_types": ["partner.approved", "invoice.paid"],
        "active": True,
        "created_at": body["created_at"],
        "updated_at": body["updated_at"],
        "secret_rotated_at": None,
        "secret": created.secret,
    }
    # A replay of the same request does not reveal the secret again.
    replay = api_a.post(
        URL,
        {
            "url": "https://crm.example.com/hooks",
            "description": "CRM",
            "event_types": ["invoice.paid", "partner.approved"],
        },
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY="create-hook-1",
    )
    assert replay.status_code == 201 and replay.json()["secret"] is None
    with schema_context(vendor_a.schema):
        assert WebhookEndpoint.objects.count() == 1

    detail = api_a.get(f"{URL}{created.pk}/")
    assert detail.status_code == 200 and "secret" not in detail.json()
    assert api_a.get(URL).json()["results"][0]["id"] == created.pk

    patched = api_a.patch(
        f"{URL}{created.pk}/",
        {"active": False, "event_types": ["payout.paid"]},
        content_type="application/json",
    )
    assert patched.status_code == 200
    assert (patched.json()["active"], patched.json()["event_types"]) == (False, ["payout.paid"])

    assert api_a.delete(f"{URL}{created.pk}/").status_code == 204
    with schema_context(vendor_a.schema):
        assert not WebhookEndpoint.objects.exists()


@pytest.mark.parametrize(
    ("body", "field", "code"),
    [
        ({"url": "ftp://x.example/", "event_types": ["invoice.paid"]}, "url", "invalid"),
        ({"url": "https://x.example/", "event_types": []}, "event_types", "empty"),
        (
            {"url": "https://x.example/", "event_types": ["nope"]},
            "event_types[0]",
            "invalid_choice",
        ),
        ({"event_types": ["invoice.paid"]}, "url", "required"),
        ({"url": "http://[::1", "event_types": ["invoice.paid"]}, "url", "invalid"),
        ({"url": "https://x.example:99999/", "event_types": ["invoice.paid"]}, "url", "invalid"),
        (
            {"url": "https://x.example/", "event_types": ["invoice.paid"], "secret": "mine"},
            "secret",
            "unknown_field",
        ),
    ],
)
def test_bad_input_answers_problem_json_and_saves_nothing(api_a, vendor_a, body, field, code):
    response = api_a.post(URL, body, content_type="application/json")
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == 400
    assert [(e["field"], e["code"]) for e in problem["errors"]] == [(field, code)]
    with schema_context(vendor_a.schema):
        assert not WebhookEndpoint.objects.exists()


def test_private_addresses_are_refused_when_not_allowed(api_a, vendor_a, settings):
    settings.WEBHOOKS_ALLOW_PRIVATE_URLS = False
    response = api_a.post(
        URL,
        {"url": "http://169.254.169.254/latest/meta-data", "event_types": ["invoice.paid"]},
        content_type="application/json",
    )
    assert response.status_code == 400
    assert response.json()["errors"] == [
        {
            "field": "url",
            "code": "invalid",
            "message": "This URL points to a private or local address; use a public one.",
        }
    ]


def test_deliveries_list_with_status_filter(api_a, vendor_a, endpoint):
    with schema_context(vendor_a.schema):
        made = webhook_events_emit(
            event_type="invoice.paid", payloads=[{"id": 1}, {"id": 2}], endpoints=[endpoint]
        )
        WebhookDelivery.objects.filter(pk=made[0].pk).update(
            status="failed", attempts=1, last_status_code=500, last_error="HTTP 500"
        )
    everything = api_a.get(f"{URL}{endpoint.pk}/deliveries/")
    assert everything.status_code == 200
    assert [d["id"] for d in everything.json()["results"]] == [made[1].pk, made[0].pk]
    failed = api_a.get(f"{URL}{endpoint.pk}/deliveries/?status=failed").json()
    (row,) = failed["results"]
    assert row["event_id"] == made[0].event.event_id
    assert (row["event_type"], row["status"], row["attempts"], row["last_status_code"]) == (
        "invoice.paid",
        "failed",
        1,
        500,
    )
    assert failed["next"] is None
    bad = api_a.get(f"{URL}{endpoint.pk}/deliveries/?status=lost")
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "status"


def test_partner_keys_see_nothing_and_change_nothing(vendor_a, endpoint, partner_api):
    before = snapshot(vendor_a)
    assert partner_api.get(URL).json() == {"results": [], "next": None}
    for method in ("get", "patch", "delete"):
        response = getattr(partner_api, method)(
            f"{URL}{endpoint.pk}/", {"active": False}, content_type="application/json"
        )
        assert response.status_code == 404, method
        assert response["Content-Type"] == "application/problem+json"
    assert partner_api.get(f"{URL}{endpoint.pk}/deliveries/").status_code == 404
    created = partner_api.post(
        URL,
        {"url": "https://evil.example/", "event_types": ["invoice.paid"]},
        content_type="application/json",
    )
    assert created.status_code == 403
    assert created.json()["detail"] == "Partner keys cannot register webhook endpoints."
    assert snapshot(vendor_a) == before


def test_vendor_b_never_sees_vendor_a_endpoints(api_b, vendor_a, endpoint):
    before = snapshot(vendor_a)
    assert api_b.get(URL).json()["results"] == []
    for method in ("get", "patch", "delete"):
        response = getattr(api_b, method)(
            f"{URL}{endpoint.pk}/", {"active": False}, content_type="application/json"
        )
        assert response.status_code == 404, method
    assert snapshot(vendor_a) == before
    # A's key on B's host: 401.
    key_a = make_api_key(vendor_a)
    on_b = host_client("vendor-b.localhost", HTTP_AUTHORIZATION=f"Bearer {key_a}")
    assert on_b.get(URL).status_code == 401


def test_the_schema_describes_the_webhook_endpoints(client_a):
    schema = client_a.get("/api/v1/schema/?format=json")
    assert schema.status_code == 200
    doc = schema.json()
    paths = doc["paths"]
    assert set(paths["/api/v1/webhook-endpoints/"]) >= {"get", "post"}
    assert set(paths["/api/v1/webhook-endpoints/{id}/"]) >= {"get", "patch", "delete"}
    deliveries = paths["/api/v1/webhook-endpoints/{id}/deliveries/"]["get"]
    assert "status" in [p["name"] for p in deliveries["parameters"] if p["in"] == "query"]
    created = paths["/api/v1/webhook-endpoints/"]["post"]["responses"]["201"]
    ref = created["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    assert "secret" in doc["components"]["schemas"][ref]["properties"]
    assert "400" in paths["/api/v1/webhook-endpoints/"]["post"]["responses"]
