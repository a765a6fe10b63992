"""Each webhook type emitted from its real trigger, in the trigger's transaction, to the endpoints
that subscribe to it — and dispatched only when that transaction commits."""

from __future__ import annotations

import datetime
import logging
from decimal import Decimal

import pytest
from django.db import transaction
from django_tenants.utils import schema_context

from billing.models import Invoice
from billing.services.invoice_payments import invoice_mark_paid
from billing.services.periods import period_finalize
from core.actors import Actor
from core.events import handlers_for, publish
from partners.services.applications import application_approve, application_submit
from tests.billing.closing_support import build_world, close, october_usage
from tests.billing.invoice_fixtures import make_invoice
from tests.factories import ClientFactory, PartnerFactory, TrackFactory
from webhooks.enums import DeliveryStatus
from webhooks.models import WebhookDelivery, WebhookEvent
from webhooks.services.endpoints import webhook_endpoint_create, webhook_endpoint_set_active

from .support import payload_builder

pytestmark = pytest.mark.django_db
ACTOR = Actor.system("webhook tests")
ALL = ["partner.approved", "invoice.finalized", "invoice.paid", "statement.approved", "payout.paid"]


@pytest.fixture
def tenant(vendor_a):
    with schema_context(vendor_a.schema):
        yield vendor_a


@pytest.fixture
def endpoints(tenant):
    """One endpoint for everything, one for invoices only, and a disabled one for everything."""
    everything = webhook_endpoint_create(url="http://127.0.0.1:9/all", event_types=ALL, actor=ACTOR)
    invoices = webhook_endpoint_create(
        url="http://127.0.0.1:9/invoices",
        event_types=["invoice.finalized", "invoice.paid"],
        actor=ACTOR,
    )
    disabled = webhook_endpoint_create(url="http://127.0.0.1:9/off", event_types=ALL, actor=ACTOR)
    webhook_endpoint_set_active(endpoint=disabled, active=False, actor=ACTOR)
    return {"all": everything, "invoices": invoices, "disabled": disabled}


def deliveries_of(event_type: str) -> list[tuple[str, str]]:
    return list(
        WebhookDelivery.objects.filter(event__type=event_type)
        .order_by("event_id", "endpoint_id")
        .values_list("event__event_id", "endpoint__url")
    )


def test_every_type_has_a_subscribed_handler():
    expected = {
        "partner.approved": "partner_approved",
        "billing_period.finalized": "invoice_finalized",
        "invoice.paid": "invoice_paid",
        "statement.approved": "statement_approved",
        "payout.paid": "payout_paid",
    }
    for domain_type, name in expected.items():
        assert f"webhooks.services.events.emit_{name}" in handlers_for(domain_type)


def test_partner_approved_from_the_approve_service(
    tenant, endpoints, django_capture_on_commit_callbacks
):
    track = TrackFactory(name="Managed Services")
    application = application_submit(
        company_name="Northwind IT",
        contact_name="Nora",
        contact_email="nora@northwind.example",
        country="FR",
        track=track,
        expected_client_count=12,
        message="",
        actor=ACTOR,
    )
    with django_capture_on_commit_callbacks() as callbacks:
        approved = application_approve(
            application=application, actor=ACTOR, request_host=tenant.host, scheme="http"
        )
    (event,) = WebhookEvent.objects.filter(type="partner.approved")
    partner = approved.partner
    assert event.payload["id"] == partner.pk
    assert event.payload["name"] == "Northwind IT"
    # A track without required onboarding steps: active at once (in the same transaction).
    assert event.payload["status"] == "active"
    assert event.payload["billing_email"] == "nora@northwind.example"
    assert event.payload["track"] == track.slug
    # Only the active endpoint subscribed to the type.
    assert deliveries_of("partner.approved") == [(event.event_id, "http://127.0.0.1:9/all")]
    (delivery,) = WebhookDelivery.objects.filter(event=event)
    assert delivery.status == DeliveryStatus.PENDING and delivery.attempts == 0
    # Dispatched on commit (among the approve's own callbacks).
    assert any("webhook_events_emit" in getattr(cb, "__qualname__", "") for cb in callbacks)


def test_invoice_finalized_one_event_per_invoice_of_the_month(tenant, endpoints):
    world = build_world()
    other = PartnerFactory(name="Zulu Net", currency="EUR", tax_rate=Decimal("0"))
    plan = world["plan"]
    from billing.services.subscriptions import subscription_create

    subscription_create(
        client=ClientFactory(partner=other, name="Zulu Client"),
        price_plan=plan,
        quantity=2,
        started_on=datetime.date(2026, 10, 1),
        actor=ACTOR,
    )
    october_usage(world)
    close(datetime.date(2026, 10, 1), datetime.datetime(2026, 11, 1, 0, 30, tzinfo=datetime.UTC))
    assert not WebhookEvent.objects.exists()  # rating alone sends nothing
    period = period_finalize(month=datetime.date(2026, 10, 1), actor=ACTOR)

    invoices = list(Invoice.objects.filter(period=period).order_by("number"))
    assert len(invoices) == 2
    events = list(WebhookEvent.objects.filter(type="invoice.finalized").order_by("id"))
    assert [e.payload["number"] for e in events] == [i.number for i in invoices]
    alpha = next(i for i in invoices if i.partner_id == world["partner"].pk)
    data = next(e.payload for e in events if e.payload["id"] == alpha.pk)
    assert data == {
        "id": alpha.pk,
        "number": alpha.number,
        "partner": world["partner"].pk,
        "partner_external_id": world["partner"].external_id or None,
        "month": "2026-10",
        "status": "open",
        "currency": "EUR",
        "subtotal": f"{alpha.subtotal:.2f}",
        "discount": f"{alpha.discount:.2f}",
        "tax": f"{alpha.tax:.2f}",
        "total": f"{alpha.total:.2f}",
        "issued_on": alpha.issued_on.isoformat(),
        "finalized_at": alpha.finalized_at.isoformat(),
        "paid_at": None,
    }
    # 2 invoices × 2 subscribed active endpoints.
    assert sorted(url for _, url in deliveries_of("invoice.finalized")) == [
        "http://127.0.0.1:9/all",
        "http://127.0.0.1:9/all",
        "http://127.0.0.1:9/invoices",
        "http://127.0.0.1:9/invoices",
    ]


def test_invoice_paid_from_mark_paid_once(tenant, endpoints):
    partner = PartnerFactory(name="Paying Partner")
    invoice = make_invoice(
        partner=partner,
        month="2026-09",
        finalized=True,
        lines=[{"client": ClientFactory(partner=partner), "amount": Decimal("100.00")}],
    )
    assert invoice_mark_paid(invoice_id=invoice.pk, actor=ACTOR, reference="bank 42") is True
    assert invoice_mark_paid(invoice_id=invoice.pk, actor=ACTOR) is False  # nothing new
    (event,) = WebhookEvent.objects.filter(type="invoice.paid")
    invoice.refresh_from_db()
    assert event.payload["id"] == invoice.pk
    assert event.payload["status"] == "paid"
    assert event.payload["total"] == "119.00"
    assert event.payload["paid_at"] == invoice.paid_at.isoformat()
    assert sorted(url for _, url in deliveries_of("invoice.paid")) == [
        "http://127.0.0.1:9/all",
        "http://127.0.0.1:9/invoices",
    ]


@pytest.mark.parametrize(
    ("domain_type", "argument"),
    [("statement.approved", "statement_id"), ("payout.paid", "payout_id")],
)
def test_statement_and_payout_through_a_registered_builder(
    tenant, endpoints, domain_type, argument
):
    calls = []

    def builder(**ids):
        calls.append(ids)
        return [{"id": ids[argument], "amount": "250.00", "currency": "EUR"}]

    with payload_builder(domain_type, builder):
        publish(domain_type, **{argument: 77})
    assert calls == [{argument: 77}]
    (event,) = WebhookEvent.objects.filter(type=domain_type)
    assert event.payload == {"id": 77, "amount": "250.00", "currency": "EUR"}
    assert [url for _, url in deliveries_of(domain_type)] == ["http://127.0.0.1:9/all"]


def test_no_subscriber_no_builder_call_no_rows(tenant):
    webhook_endpoint_create(url="http://127.0.0.1:9/p", event_types=["invoice.paid"], actor=ACTOR)

    def builder(**ids):
        raise AssertionError("must not be called without a subscribed endpoint")

    with payload_builder("payout.paid", builder):
        publish("payout.paid", payout_id=1)
    assert not WebhookEvent.objects.exists()


def test_a_missing_builder_logs_and_leaves_the_publisher_alone(tenant, endpoints, caplog):
    from webhooks.payloads import builder_for, register_payload_builder, unregister_payload_builder

    previous = builder_for("payout.paid")
    unregister_payload_builder("payout.paid")
    try:
        with caplog.at_level(logging.WARNING, logger="webhooks.services.events"):
            publish("payout.paid", payout_id=5)
    finally:
        if previous is not None:
            register_payload_builder("payout.paid", previous)
    assert not WebhookEvent.objects.exists()
    assert "No webhook payload builder for payout.paid" in caplog.text


def test_a_rolled_back_trigger_leaves_no_event_and_dispatches_nothing(
    tenant, endpoints, django_capture_on_commit_callbacks
):
    with (
        django_capture_on_commit_callbacks() as callbacks,
        payload_builder("payout.paid", lambda **ids: [{"id": ids["payout_id"]}]),
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        publish("payout.paid", payout_id=3)
        assert WebhookEvent.objects.count() == 1
        raise RuntimeError("the payout failed after all")
    assert not WebhookEvent.objects.exists()
    assert callbacks == []
