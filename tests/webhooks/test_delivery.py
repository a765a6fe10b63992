"""Sending deliveries to a real local HTTP receiver: signing, success, retries with backoff on 500,
timeouts and refused connections, exhaustion, retry now, and a worker that died mid-send."""

from __future__ import annotations

import datetime
import hashlib
import hmac
import json
from pathlib import Path

import pytest
from django.test import override_settings
from django.utils import timezone
from django_tenants.utils import schema_context

from core.actors import Actor
from core.models import AuditEntry
from webhooks.enums import DeliveryStatus
from webhooks.errors import WebhookError
from webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEvent
from webhooks.services.deliveries import (
    LEASE_MARGIN,
    deliveries_due,
    delivery_attempt,
    delivery_claim,
    delivery_record,
    delivery_retry_now,
    events_purge,
)
from webhooks.services.endpoints import webhook_endpoint_create, webhook_endpoint_set_active
from webhooks.services.events import webhook_events_emit
from webhooks.signing import signature

from .support import receiver, refused_url, verify

pytestmark = pytest.mark.django_db
ACTOR = Actor.system("webhook tests")
SCHEDULE = [60, 300, 1800]


@pytest.fixture
def tenant(vendor_a):
    with schema_context(vendor_a.schema):
        yield vendor_a


def make_endpoint(url: str, types=("invoice.paid",)):
    return webhook_endpoint_create(url=url, event_types=list(types), actor=ACTOR)


def emit_one(endpoint, data=None) -> WebhookDelivery:
    (delivery,) = webhook_events_emit(
        event_type="invoice.paid",
        payloads=[data or {"id": 41, "number": "INV-000041", "total": "119.00"}],
        endpoints=[endpoint],
    )
    return delivery


def make_due(delivery: WebhookDelivery) -> None:
    """As if the time until the next attempt had passed."""
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        next_attempt_at=timezone.now() - datetime.timedelta(seconds=1)
    )


def test_signature_matches_an_independent_hmac():
    body = b'{"id":"evt_1","type":"invoice.paid"}'
    expected = hmac.new(b"whsec_test", b"1767225600." + body, hashlib.sha256).hexdigest()
    assert signature("whsec_test", 1767225600, body) == f"v1={expected}"


def test_a_delivery_posts_the_signed_envelope_and_succeeds(tenant):
    with receiver((204, 0, b"")) as rec:
        endpoint = make_endpoint(rec.url)
        delivery = emit_one(endpoint)
        assert delivery_attempt(delivery_id=delivery.pk) == DeliveryStatus.SUCCEEDED
        (got,) = rec.received
    event = WebhookEvent.objects.get(pk=delivery.event_id)
    assert got.path == "/hooks/msp"
    assert got.headers["Content-Type"] == "application/json"
    assert got.headers["Webhook-Id"] == event.event_id
    assert event.event_id.startswith("evt_") and len(event.event_id) == 36
    assert verify(endpoint.secret, got.headers, got.body)
    assert not verify("whsec_other", got.headers, got.body)
    assert got.json() == {
        "id": event.event_id,
        "type": "invoice.paid",
        "created_at": event.created_at.isoformat(),
        "data": {"id": 41, "number": "INV-000041", "total": "119.00"},
    }
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("succeeded", 1, 204)
    assert delivery.next_attempt_at is None and delivery.succeeded_at is not None
    (attempt,) = WebhookAttempt.objects.filter(delivery=delivery)
    assert (attempt.number, attempt.status_code, attempt.succeeded, attempt.error) == (
        1,
        204,
        True,
        "",
    )
    assert attempt.duration_ms is not None and attempt.finished_at is not None
    # Succeeded: nothing is sent again, whoever asks.
    assert delivery_attempt(delivery_id=delivery.pk) == "skipped"


@override_settings(WEBHOOKS_RETRY_SCHEDULE=SCHEDULE, WEBHOOKS_TIMEOUT_SECONDS=0.5)
def test_retries_back_off_on_500_timeout_and_refused_until_success(tenant):
    with receiver((500, 0, b"database down"), (200, 2.0, b"late"), (200, 0, b"thanks")) as rec:
        endpoint = make_endpoint(rec.url)
        delivery = emit_one(endpoint)

        # 1: HTTP 500 → failed, next in 60 s; the body excerpt is kept.
        assert delivery_attempt(delivery_id=delivery.pk) == DeliveryStatus.FAILED
        delivery.refresh_from_db()
        first = WebhookAttempt.objects.get(delivery=delivery, number=1)
        assert (delivery.last_status_code, delivery.last_error) == (500, "HTTP 500")
        assert delivery.last_response_excerpt == "database down"
        assert delivery.next_attempt_at - first.finished_at == datetime.timedelta(seconds=60)
        # Not due yet: nothing is sent.
        assert delivery_attempt(delivery_id=delivery.pk) == "skipped"
        assert len(rec.received) == 1

        # 2: the receiver answers after 2 s, our timeout is 0.5 s → failed, next in 300 s.
        make_due(delivery)
        assert delivery_attempt(delivery_id=delivery.pk) == DeliveryStatus.FAILED
        delivery.refresh_from_db()
        second = WebhookAttempt.objects.get(delivery=delivery, number=2)
        assert delivery.last_status_code is None
        assert delivery.last_error == "Timed out after 0.5 s"
        assert delivery.next_attempt_at - second.finished_at == datetime.timedelta(seconds=300)

        # 3: connection refused (the endpoint moved to a dead port) → failed, next in 1800 s.
        url = endpoint.url
        type(endpoint).objects.filter(pk=endpoint.pk).update(url=refused_url())
        make_due(delivery)
        assert delivery_attempt(delivery_id=delivery.pk) == DeliveryStatus.FAILED
        delivery.refresh_from_db()
        third = WebhookAttempt.objects.get(delivery=delivery, number=3)
        assert delivery.last_error.startswith("Connection failed:")
        assert "refused" in delivery.last_error.lower()
        assert delivery.next_attempt_at - third.finished_at == datetime.timedelta(seconds=1800)

        # 4: back, and answering 200 → succeeded.
        type(endpoint).objects.filter(pk=endpoint.pk).update(url=url)
        make_due(delivery)
        assert delivery_attempt(delivery_id=delivery.pk) == DeliveryStatus.SUCCEEDED
        received = rec.wait_for(3)

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("succeeded", 4, 200)
    assert list(
        WebhookAttempt.objects.filter(delivery=delivery).values_list("number", "status_code")
    ) == [(1, 500), (2, None), (3, None), (4, 200)]
    # The same Webhook-Id on every attempt, each signed afresh.
    assert {r.headers["Webhook-Id"] for r in received} == {delivery.event.event_id}
    assert all(verify(endpoint.secret, r.headers, r.body) for r in received)


@override_settings(WEBHOOKS_RETRY_SCHEDULE=[60, 300])
def test_exhausted_after_the_last_attempt_and_retry_now_sends_once_more(tenant):
    with receiver(*[(503, 0, b"no")] * 4) as rec:
        endpoint = make_endpoint(rec.url)
        delivery = emit_one(endpoint)
        statuses = []
        for _ in range(3):
            make_due(delivery)
            statuses.append(delivery_attempt(delivery_id=delivery.pk))
        assert statuses == ["failed", "failed", "exhausted"]
        delivery.refresh_from_db()
        assert (delivery.status, delivery.attempts, delivery.next_attempt_at) == (
            "exhausted",
            3,
            None,
        )
        # Exhausted: the sweep and late tasks leave it alone.
        assert delivery_attempt(delivery_id=delivery.pk) == "skipped"
        assert delivery.pk not in deliveries_due(now=timezone.now() + datetime.timedelta(days=9))
        assert len(rec.received) == 3

        # Retry now: one more attempt (audited); it fails again → exhausted again.
        delivery_retry_now(delivery=delivery, actor=ACTOR)
        assert AuditEntry.objects.filter(
            action="webhook_delivery.retried", object_id=str(delivery.pk)
        ).exists()
        assert delivery_attempt(delivery_id=delivery.pk) == "exhausted"
        assert len(rec.received) == 4

        # And a retry that succeeds.
        delivery_retry_now(delivery=delivery, actor=ACTOR)
        assert delivery_attempt(delivery_id=delivery.pk) == "succeeded"
        assert len(rec.received) == 5
    delivery.refresh_from_db()
    with pytest.raises(WebhookError, match="has succeeded"):
        delivery_retry_now(delivery=delivery, actor=ACTOR)


def test_a_claimed_attempt_is_not_claimed_again_and_is_recorded_once(tenant):
    with receiver() as rec:
        endpoint = make_endpoint(rec.url)
        delivery = emit_one(endpoint)
        claim = delivery_claim(delivery_id=delivery.pk)
        assert claim is not None and claim.number == 1
        # A second worker (a duplicate task, the sweep) finds it leased: nothing to send.
        assert delivery_claim(delivery_id=delivery.pk) is None
        assert delivery_attempt(delivery_id=delivery.pk) == "skipped"
        assert rec.received == []
        from webhooks.sender import SendResult

        ok = SendResult(status_code=200, duration_ms=12)
        delivery_record(claim=claim, result=ok)
        delivery_record(claim=claim, result=SendResult(status_code=500, duration_ms=9))
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("succeeded", 1, 200)
    assert WebhookAttempt.objects.filter(delivery=delivery).count() == 1


def test_a_worker_that_died_mid_send_is_taken_over_after_its_lease(tenant):
    with receiver() as rec:
        endpoint = make_endpoint(rec.url)
        delivery = emit_one(endpoint)
        claim = delivery_claim(delivery_id=delivery.pk)  # …and the worker dies here
        delivery.refresh_from_db()
        lease_end = delivery.next_attempt_at
        assert lease_end - delivery.last_attempt_at == (
            datetime.timedelta(seconds=10) + LEASE_MARGIN
        )
        # Retry now refuses while the attempt may still be in flight.
        with pytest.raises(WebhookError, match="being sent right now"):
            delivery_retry_now(delivery=delivery, actor=ACTOR)
        # The sweep sees it once the lease has lapsed, and the next attempt goes out.
        later = lease_end + datetime.timedelta(minutes=3)
        assert delivery.pk not in deliveries_due(now=lease_end - datetime.timedelta(seconds=1))
        assert delivery.pk in deliveries_due(now=later)
        make_due(delivery)
        assert delivery_attempt(delivery_id=delivery.pk) == "succeeded"
        assert len(rec.received) == 1
    rows = list(
        WebhookAttempt.objects.filter(delivery=delivery).values_list("number", "status_code")
    )
    assert rows == [(1, None), (2, 200)]
    lost = WebhookAttempt.objects.get(pk=claim.attempt_id)
    assert lost.error == "No answer was recorded (the worker stopped while sending)."


def test_disabled_endpoints_get_nothing_until_enabled(tenant):
    with receiver() as rec:
        endpoint = make_endpoint(rec.url)
        delivery = emit_one(endpoint)
        webhook_endpoint_set_active(endpoint=endpoint, active=False, actor=ACTOR)
        later = timezone.now() + datetime.timedelta(minutes=5)
        assert delivery_attempt(delivery_id=delivery.pk) == "skipped"
        assert delivery.pk not in deliveries_due(now=later)
        webhook_endpoint_set_active(endpoint=endpoint, active=True, actor=ACTOR)
        assert delivery.pk in deliveries_due(now=later)
        assert delivery_attempt(delivery_id=delivery.pk) == "succeeded"
        assert len(rec.received) == 1


def test_redirects_are_not_followed(tenant):
    with receiver((302, 0, b"moved")) as rec:
        delivery = emit_one(make_endpoint(rec.url))
        assert delivery_attempt(delivery_id=delivery.pk) == "failed"
        assert len(rec.received) == 1
    delivery.refresh_from_db()
    assert (delivery.last_status_code, delivery.last_error) == (302, "HTTP 302")


@override_settings(WEBHOOKS_ALLOW_PRIVATE_URLS=False)
def test_a_private_address_is_refused_again_before_sending(tenant):
    with receiver() as rec:
        with override_settings(WEBHOOKS_ALLOW_PRIVATE_URLS=True):
            delivery = emit_one(make_endpoint(rec.url))
        assert delivery_attempt(delivery_id=delivery.pk) == "failed"
        assert rec.received == []
    delivery.refresh_from_db()
    assert delivery.last_error == "This URL points to a private or local address; use a public one."


def test_the_body_is_the_stored_event_exactly(tenant):
    with receiver() as rec:
        data = {"id": 7, "amount": "12.50", "nested": {"a": [1, 2]}, "text": "Müller & Söhne"}
        delivery = emit_one(make_endpoint(rec.url), data)
        delivery_attempt(delivery_id=delivery.pk)
        (got,) = rec.received
    assert json.loads(got.body)["data"] == data


def test_the_verification_snippet_in_the_api_guide_accepts_our_requests(tenant):
    guide = (Path(__file__).resolve().parents[2] / "docs" / "api.md").read_text()
    section = guide[guide.index("## Webhooks") :]
    code = section[
        section.index("```python") + len("```python") : section.index(
            "```\n", section.index("```python") + 9
        )
    ]
    namespace: dict = {}
    exec(code, namespace)
    verify_webhook = namespace["verify_webhook"]
    with receiver() as rec:
        endpoint = make_endpoint(rec.url)
        delivery_attempt(delivery_id=emit_one(endpoint).pk)
        (got,) = rec.received
    assert verify_webhook(endpoint.secret, got.headers, got.body) is True
    assert verify_webhook(endpoint.secret, got.headers, got.body + b" ") is False
    # Correctly signed, but 301 s old: refused as a replay.
    old = int(got.headers["Webhook-Timestamp"]) - 301
    stale = {
        **got.headers,
        "Webhook-Timestamp": str(old),
        "Webhook-Signature": signature(endpoint.secret, old, got.body),
    }
    assert verify_webhook(endpoint.secret, stale, got.body) is False


@override_settings(WEBHOOKS_RETENTION_DAYS=90)
def test_purge_drops_only_old_finished_events(tenant):
    endpoint = make_endpoint("http://127.0.0.1:9/x")
    old_done, old_failing, recent_done = (emit_one(endpoint, {"id": n}) for n in (1, 2, 3))
    WebhookDelivery.objects.filter(pk__in=[old_done.pk, recent_done.pk]).update(status="succeeded")
    WebhookDelivery.objects.filter(pk=old_failing.pk).update(status="failed")
    long_ago = timezone.now() - datetime.timedelta(days=91)
    WebhookEvent.objects.filter(pk__in=[old_done.event_id, old_failing.event_id]).update(
        created_at=long_ago
    )
    assert events_purge() == 1
    assert set(WebhookDelivery.objects.values_list("pk", flat=True)) == {
        old_failing.pk,
        recent_done.pk,
    }
