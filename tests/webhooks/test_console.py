"""Console pages: admins manage endpoints, analysts and finance read, other roles get 403; another
vendor's endpoint is a 404; the delivery log filters by status over HTMX; the secret is shown
only in answers to an admin's POST."""

from __future__ import annotations

import pytest
from django_tenants.utils import schema_context

from core.actors import Actor
from core.models import AuditEntry
from tests.partners.program_fixtures import console_client
from webhooks.enums import DeliveryStatus
from webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookEvent
from webhooks.services.endpoints import webhook_endpoint_create
from webhooks.services.events import webhook_events_emit

pytestmark = pytest.mark.django_db
ACTOR = Actor.system("webhook tests")


@pytest.fixture
def endpoint(vendor_a):
    with schema_context(vendor_a.schema):
        return webhook_endpoint_create(
            url="https://hooks.example.com/msp",
            description="CRM sync",
            event_types=["invoice.paid", "partner.approved"],
            actor=ACTOR,
        )


@pytest.fixture
def deliveries(vendor_a, endpoint):
    """Three deliveries: succeeded, failed (with an attempt), exhausted."""
    with schema_context(vendor_a.schema):
        made = webhook_events_emit(
            event_type="invoice.paid",
            payloads=[{"id": 1}, {"id": 2}, {"id": 3}],
            endpoints=[endpoint],
        )
        states = [DeliveryStatus.SUCCEEDED, DeliveryStatus.FAILED, DeliveryStatus.EXHAUSTED]
        for delivery, state in zip(made, states, strict=True):
            WebhookDelivery.objects.filter(pk=delivery.pk).update(
                status=state, attempts=1, last_status_code=200 if state == "succeeded" else 500
            )
            WebhookAttempt.objects.create(
                delivery=delivery,
                number=1,
                started_at=delivery.created_at,
                finished_at=delivery.created_at,
                duration_ms=31,
                status_code=200 if state == "succeeded" else 500,
                response_excerpt=f"answer-{state}",
            )
        return {state: d for state, d in zip(states, made, strict=True)}


def state(tv) -> list:
    with schema_context(tv.schema):
        return [
            list(WebhookEndpoint.objects.order_by("pk").values()),
            list(WebhookDelivery.objects.order_by("pk").values()),
            WebhookEvent.objects.count(),
        ]


def test_admin_creates_an_endpoint_and_sees_its_secret_once(vendor_a):
    admin = console_client(vendor_a, "admin")
    form = admin.get("/console/webhooks/new/")
    assert form.status_code == 200
    assert b'value="invoice.finalized"' in form.content  # a checkbox per event type
    response = admin.post(
        "/console/webhooks/new/",
        {
            "url": "https://erp.example.com/hooks",
            "description": "ERP",
            "event_types": ["invoice.finalized", "invoice.paid"],
        },
    )
    assert response.status_code == 201
    assert "no-store" in response["Cache-Control"]
    with schema_context(vendor_a.schema):
        created = WebhookEndpoint.objects.get()
        assert created.event_types == ["invoice.finalized", "invoice.paid"]
        assert created.secret.startswith("whsec_")
        (entry,) = AuditEntry.objects.filter(
            action="webhook_endpoint.created", object_id=str(created.pk)
        )
        assert created.secret not in str(entry.after)
    assert created.secret in response.content.decode()
    # The list and the detail page never show it.
    listing = admin.get("/console/webhooks/")
    detail = admin.get(f"/console/webhooks/{created.pk}/")
    for page in (listing, detail):
        assert page.status_code == 200
        assert created.secret not in page.content.decode()
    assert "https://erp.example.com/hooks" in listing.content.decode()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"url": "ftp://files.example.com/x", "event_types": ["invoice.paid"]}, "http"),
        ({"url": "https://ok.example.com/", "event_types": []}, "Choose at least one"),
        ({"url": "https://ok.example.com/", "event_types": ["invoice.voided"]}, "valid choice"),
    ],
)
def test_bad_input_is_refused_with_a_message_and_nothing_saved(vendor_a, body, message):
    admin = console_client(vendor_a, "admin")
    response = admin.post("/console/webhooks/new/", body)
    assert response.status_code == 200
    assert message in response.content.decode()
    with schema_context(vendor_a.schema):
        assert not WebhookEndpoint.objects.exists()


def test_admin_edits_disables_rotates_tests_and_deletes(vendor_a, endpoint, settings):
    admin = console_client(vendor_a, "admin")
    base = f"/console/webhooks/{endpoint.pk}/"
    response = admin.post(
        base + "edit/",
        {
            "url": "https://hooks.example.com/v2",
            "description": "CRM",
            "event_types": ["payout.paid"],
        },
    )
    assert response.status_code == 302
    assert admin.post(base + "active/", {"active": "0"}).status_code == 302
    with schema_context(vendor_a.schema):
        endpoint.refresh_from_db()
        assert (endpoint.url, endpoint.event_types, endpoint.active) == (
            "https://hooks.example.com/v2",
            ["payout.paid"],
            False,
        )
    # A disabled endpoint gets no test event.
    admin.post(base + "test/")
    with schema_context(vendor_a.schema):
        assert not WebhookEvent.objects.exists()
    admin.post(base + "active/", {"active": "1"})
    assert admin.post(base + "test/").status_code == 302
    with schema_context(vendor_a.schema):
        (event,) = WebhookEvent.objects.all()
        assert event.type == "webhook.test"
        assert list(event.deliveries.values_list("endpoint_id", flat=True)) == [endpoint.pk]

    old_secret = endpoint.secret
    shown = admin.post(base + "secret/")
    assert shown.status_code == 200 and old_secret in shown.content.decode()
    assert admin.get(base + "secret/").status_code == 405
    assert admin.get(base + "rotate-secret/").status_code == 200
    rotated = admin.post(base + "rotate-secret/")
    with schema_context(vendor_a.schema):
        endpoint.refresh_from_db()
    assert endpoint.secret != old_secret
    assert endpoint.secret in rotated.content.decode()
    assert old_secret not in rotated.content.decode()

    assert admin.post(base + "delete/").status_code == 302
    with schema_context(vendor_a.schema):
        assert not WebhookEndpoint.objects.exists()
        actions = list(
            AuditEntry.objects.filter(
                object_type="webhooks.webhookendpoint", object_id=str(endpoint.pk)
            )
            .order_by("id")
            .values_list("action", flat=True)
        )
    assert actions == [
        "webhook_endpoint.created",
        "webhook_endpoint.updated",
        "webhook_endpoint.disabled",
        "webhook_endpoint.enabled",
        "webhook_endpoint.test_sent",
        "webhook_endpoint.secret_rotated",
        "webhook_endpoint.deleted",
    ]


@pytest.mark.parametrize("role", ["analyst", "finance"])
def test_readers_see_the_log_but_change_nothing(vendor_a, endpoint, deliveries, role):
    reader = console_client(vendor_a, role)
    base = f"/console/webhooks/{endpoint.pk}/"
    failed = deliveries["failed"]
    home = reader.get("/console/")
    assert b'href="/console/webhooks/"' in home.content  # the nav entry
    for url in ("/console/webhooks/", base, f"{base}deliveries/{failed.pk}/"):
        page = reader.get(url)
        assert page.status_code == 200, url
        assert endpoint.secret not in page.content.decode()
    assert b"Retry now" not in reader.get(base).content
    before = state(vendor_a)
    for method, url, data in [
        ("get", "/console/webhooks/new/", None),
        (
            "post",
            "/console/webhooks/new/",
            {"url": "https://x.example/", "event_types": ["invoice.paid"]},
        ),
        ("post", base + "edit/", {"url": "https://x.example/", "event_types": ["invoice.paid"]}),
        ("post", base + "active/", {"active": "0"}),
        ("post", base + "secret/", None),
        ("post", base + "rotate-secret/", None),
        ("post", base + "test/", None),
        ("post", base + "delete/", None),
        ("post", f"{base}deliveries/{failed.pk}/retry/", None),
    ]:
        response = getattr(reader, method)(url, data or {})
        assert response.status_code == 403, (method, url)
        assert endpoint.secret not in response.content.decode()
    assert state(vendor_a) == before


@pytest.mark.parametrize("role", ["channel_manager", "enablement", "support"])
def test_other_roles_get_403(vendor_a, endpoint, role):
    client = console_client(vendor_a, role)
    assert client.get("/console/webhooks/").status_code == 403
    assert client.get(f"/console/webhooks/{endpoint.pk}/").status_code == 403
    assert b'href="/console/webhooks/"' not in client.get("/console/").content


def test_another_vendors_endpoint_is_404_and_unchanged(vendor_a, vendor_b, endpoint, deliveries):
    admin_b = console_client(vendor_b, "admin")
    base = f"/console/webhooks/{endpoint.pk}/"
    before = state(vendor_a)
    for method, url in [
        ("get", base),
        ("get", base + "edit/"),
        ("post", base + "edit/"),
        ("post", base + "active/"),
        ("post", base + "secret/"),
        ("post", base + "rotate-secret/"),
        ("post", base + "test/"),
        ("post", base + "delete/"),
        ("get", f"{base}deliveries/{deliveries['failed'].pk}/"),
        ("post", f"{base}deliveries/{deliveries['failed'].pk}/retry/"),
    ]:
        response = getattr(admin_b, method)(url)
        assert response.status_code == 404, (method, url)
    assert state(vendor_a) == before
    assert b"hooks.example.com" not in admin_b.get("/console/webhooks/").content


def test_the_delivery_log_filters_by_status_over_htmx(vendor_a, endpoint, deliveries):
    admin = console_client(vendor_a, "admin")
    base = f"/console/webhooks/{endpoint.pk}/"
    full = admin.get(base)
    assert full.content.decode().count('aria-label="Retry ') == 2  # failed and exhausted
    partial = admin.get(base + "?status=failed", HTTP_HX_REQUEST="true")
    assert partial.status_code == 200
    html = partial.content.decode()
    assert "<html" not in html
    assert html.count("<tr>") == 2  # the header row and one delivery
    assert deliveries["failed"].event.event_id in html
    assert deliveries["succeeded"].event.event_id not in html
    assert "1 delivery with this status." in html
    assert partial["Vary"].count("HX-Request") == 1


def test_delivery_page_shows_attempts_and_retry_now_dispatches(
    vendor_a, endpoint, deliveries, django_capture_on_commit_callbacks
):
    admin = console_client(vendor_a, "admin")
    exhausted = deliveries["exhausted"]
    url = f"/console/webhooks/{endpoint.pk}/deliveries/{exhausted.pk}/"
    page = admin.get(url)
    assert page.status_code == 200
    assert "answer-exhausted" in page.content.decode()
    assert "31 ms" in page.content.decode()
    with django_capture_on_commit_callbacks() as callbacks:
        response = admin.post(url + "retry/", {"next": "delivery"})
    assert response.status_code == 302 and response["Location"] == url
    assert len(callbacks) == 1
    with schema_context(vendor_a.schema):
        exhausted.refresh_from_db()
    assert exhausted.status == "failed" and exhausted.next_attempt_at is not None
    # A succeeded delivery is not retried.
    ok = deliveries["succeeded"]
    admin.post(f"/console/webhooks/{endpoint.pk}/deliveries/{ok.pk}/retry/")
    with schema_context(vendor_a.schema):
        ok.refresh_from_db()
    assert ok.status == "succeeded"


def test_list_and_log_queries_do_not_grow_with_rows(
    vendor_a, endpoint, django_assert_max_num_queries
):
    with schema_context(vendor_a.schema):
        for n in range(3):
            other = webhook_endpoint_create(
                url=f"https://h{n}.example.com/", event_types=["invoice.paid"], actor=ACTOR
            )
            webhook_events_emit(
                event_type="invoice.paid",
                payloads=[{"id": i} for i in range(5)],
                endpoints=[endpoint, other],
            )
    admin = console_client(vendor_a, "admin")
    with django_assert_max_num_queries(12):
        assert admin.get("/console/webhooks/").status_code == 200
    with django_assert_max_num_queries(12):
        assert admin.get(f"/console/webhooks/{endpoint.pk}/").status_code == 200
