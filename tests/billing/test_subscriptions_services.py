"""Subscription services: every rule (exact message and field, nothing saved on refusal), the
first quantity change, same-day replacement, the current quantity, audit rows, DB checks."""

from __future__ import annotations

import datetime

import pytest
from django.db import IntegrityError, transaction
from django_tenants.utils import tenant_context

from billing.errors import BillingError
from billing.models import SeatQuantityChange, Subscription
from billing.services.catalog import price_plan_create
from billing.services.subscriptions import (
    subscription_change_quantity,
    subscription_create,
    subscription_end,
)
from core.actors import Actor
from core.models import AuditEntry
from partners.enums import ClientStatus
from tests.factories import ClientFactory, PartnerFactory

pytestmark = pytest.mark.django_db

ACTOR = Actor.system("subscription tests")
D = datetime.date
SEATS = [{"seats": True, "model": "per_unit", "unit_price": "3", "counting_rule": "average"}]


def plan(code: str, currency: str = "EUR"):
    return price_plan_create(
        code=code,
        name=code.title(),
        currency=currency,
        charges=SEATS,
        actor=ACTOR,
        effective_from=D(2026, 1, 1),
    )


@pytest.fixture
def world(vendor_a):
    with tenant_context(vendor_a.vendor):
        partner = PartnerFactory(name="Alpha IT", currency="EUR")
        yield {
            "partner": partner,
            "client": ClientFactory(partner=partner, name="Kiwi GmbH", started_on=D(2026, 2, 1)),
            "eur": plan("seats-eur"),
            "eur2": plan("backup-eur"),
            "usd": plan("seats-usd", "USD"),
        }


def state() -> dict:
    return {
        "subscriptions": list(Subscription.objects.order_by("pk").values()),
        "changes": list(SeatQuantityChange.objects.order_by("pk").values()),
        "audit": AuditEntry.objects.count(),
    }


def refused(message: str, field: str, call, **kwargs) -> None:
    before = state()
    with pytest.raises(BillingError) as caught:
        call(actor=ACTOR, **kwargs)
    assert (str(caught.value), caught.value.field) == (message, field)
    assert state() == before


def create(world, **overrides):
    args = {
        "client": world["client"],
        "price_plan": world["eur"],
        "quantity": 10,
        "started_on": D(2026, 3, 1),
        "actor": ACTOR,
    }
    return subscription_create(**{**args, **overrides})


def changes_of(subscription) -> list[tuple[datetime.date, int]]:
    return list(
        SeatQuantityChange.objects.filter(subscription=subscription)
        .order_by("pk")
        .values_list("effective_on", "quantity")
    )


# --- create ----------------------------------------------------------------------------------


def test_create_records_the_initial_quantity_as_the_first_change_and_audits(world):
    subscription = create(world)
    subscription.refresh_from_db()
    assert (subscription.client_id, subscription.price_plan_id) == (
        world["client"].pk,
        world["eur"].pk,
    )
    assert (subscription.quantity, subscription.started_on, subscription.ended_on) == (
        10,
        D(2026, 3, 1),
        None,
    )
    assert changes_of(subscription) == [(D(2026, 3, 1), 10)]
    entry = AuditEntry.objects.get(action="subscription.created")
    assert entry.object_id == str(subscription.pk)
    assert entry.after["quantity"] == 10
    assert entry.after["started_on"] == "2026-03-01"
    assert entry.actor_label == "subscription tests"


def test_create_refuses_a_churned_client(world):
    churned = ClientFactory(
        partner=world["partner"],
        name="Gone Ltd",
        status=ClientStatus.CHURNED,
        started_on=D(2026, 1, 1),
        ended_on=D(2026, 2, 28),
    )
    refused(
        "Gone Ltd has churned: a churned client cannot subscribe.",
        "client",
        subscription_create,
        client=churned,
        price_plan=world["eur"],
        quantity=1,
        started_on=D(2026, 1, 1),
    )


def test_create_refuses_a_start_before_the_client_started(world):
    refused(
        "Kiwi GmbH started on 2026-02-01: a subscription cannot start before its client.",
        "started_on",
        subscription_create,
        client=world["client"],
        price_plan=world["eur"],
        quantity=1,
        started_on=D(2026, 1, 31),
    )


def test_create_refuses_a_plan_in_another_currency(world):
    refused(
        "The plan seats-usd is priced in USD, but Alpha IT is billed in EUR: choose a EUR plan.",
        "price_plan",
        subscription_create,
        client=world["client"],
        price_plan=world["usd"],
        quantity=1,
        started_on=D(2026, 3, 1),
    )


def test_create_refuses_a_partner_without_a_currency(world):
    partner = PartnerFactory(name="Blank Co", currency="")
    client = ClientFactory(partner=partner, started_on=D(2026, 1, 1))
    refused(
        "Blank Co has no billing currency yet: complete its billing profile first.",
        "price_plan",
        subscription_create,
        client=client,
        price_plan=world["eur"],
        quantity=1,
        started_on=D(2026, 3, 1),
    )


@pytest.mark.parametrize(
    ("quantity", "message"),
    [
        (-1, "A seat quantity cannot be negative."),
        (1.5, "A seat quantity is a whole number."),
        (True, "A seat quantity is a whole number."),
        (2**31, "That seat quantity is too large."),
    ],
)
def test_create_refuses_bad_quantities(world, quantity, message):
    refused(
        message,
        "quantity",
        subscription_create,
        client=world["client"],
        price_plan=world["eur"],
        quantity=quantity,
        started_on=D(2026, 3, 1),
    )


def test_create_refuses_an_end_before_the_start(world):
    refused(
        "A subscription cannot end before it starts.",
        "ended_on",
        subscription_create,
        client=world["client"],
        price_plan=world["eur"],
        quantity=1,
        started_on=D(2026, 3, 1),
        ended_on=D(2026, 2, 28),
    )


def test_create_refuses_an_overlap_on_the_same_plan(world):
    first = create(world, started_on=D(2026, 3, 1), ended_on=D(2026, 3, 31))
    for started_on, ended_on in [
        (D(2026, 3, 31), None),  # starts on the other's last day
        (D(2026, 2, 1), D(2026, 3, 1)),  # ends on the other's first day
        (D(2026, 2, 1), None),  # open-ended, around it
    ]:
        refused(
            f"Kiwi GmbH is already subscribed to seats-eur from 2026-03-01 until 2026-03-31 "
            f"(subscription {first.pk}).",
            "started_on",
            subscription_create,
            client=world["client"],
            price_plan=world["eur"],
            quantity=1,
            started_on=started_on,
            ended_on=ended_on,
        )


def test_several_subscriptions_are_fine_when_they_do_not_overlap_or_are_on_other_plans(world):
    march = create(world, started_on=D(2026, 3, 1), ended_on=D(2026, 3, 31))
    april_on = create(world, started_on=D(2026, 4, 1))
    other_plan = create(world, price_plan=world["eur2"], started_on=D(2026, 3, 15))
    assert Subscription.objects.filter(client=world["client"]).count() == 3
    refused(
        f"Kiwi GmbH is already subscribed to seats-eur from 2026-04-01 (subscription "
        f"{april_on.pk}).",
        "started_on",
        subscription_create,
        client=world["client"],
        price_plan=world["eur"],
        quantity=1,
        started_on=D(2027, 1, 1),
    )
    assert march.pk < april_on.pk < other_plan.pk


# --- quantity changes ------------------------------------------------------------------------


def test_changes_add_rows_and_keep_the_latest_effective_quantity_current(world):
    subscription = create(world)
    subscription_change_quantity(
        subscription=subscription, quantity=25, effective_on=D(2026, 3, 20), actor=ACTOR
    )
    assert Subscription.objects.get(pk=subscription.pk).quantity == 25
    # A back-dated change is recorded, but the latest-effective quantity stays current.
    subscription_change_quantity(
        subscription=subscription, quantity=12, effective_on=D(2026, 3, 10), actor=ACTOR
    )
    assert Subscription.objects.get(pk=subscription.pk).quantity == 25
    assert subscription.quantity == 25
    assert changes_of(subscription) == [
        (D(2026, 3, 1), 10),
        (D(2026, 3, 20), 25),
        (D(2026, 3, 10), 12),
    ]
    entries = AuditEntry.objects.filter(action="subscription.quantity_changed").order_by("pk")
    assert [e.after for e in entries] == [
        {
            "quantity": 25,
            "effective_on": "2026-03-20",
            "replaced_quantity": None,
            "current_quantity": 25,
        },
        {
            "quantity": 12,
            "effective_on": "2026-03-10",
            "replaced_quantity": None,
            "current_quantity": 25,
        },
    ]
    assert [e.object_id for e in entries] == [str(subscription.pk)] * 2


def test_a_change_on_a_day_that_has_one_replaces_it(world):
    subscription = create(world)
    subscription_change_quantity(
        subscription=subscription, quantity=25, effective_on=D(2026, 3, 20), actor=ACTOR
    )
    replaced = subscription_change_quantity(
        subscription=subscription, quantity=18, effective_on=D(2026, 3, 20), actor=ACTOR
    )
    assert changes_of(subscription) == [(D(2026, 3, 1), 10), (D(2026, 3, 20), 18)]
    assert (replaced.effective_on, replaced.quantity) == (D(2026, 3, 20), 18)
    assert Subscription.objects.get(pk=subscription.pk).quantity == 18
    entry = AuditEntry.objects.filter(action="subscription.quantity_changed").latest("pk")
    assert entry.after == {
        "quantity": 18,
        "effective_on": "2026-03-20",
        "replaced_quantity": 25,
        "current_quantity": 18,
    }
    # The start day's change is the initial quantity: replacing it corrects that.
    subscription_change_quantity(
        subscription=subscription, quantity=0, effective_on=D(2026, 3, 1), actor=ACTOR
    )
    assert changes_of(subscription) == [(D(2026, 3, 1), 0), (D(2026, 3, 20), 18)]


def test_changes_outside_the_subscription_dates_are_refused(world):
    subscription = create(world, ended_on=D(2026, 4, 30))
    for effective_on, message in [
        (
            D(2026, 2, 28),
            "The subscription starts on 2026-03-01: a change cannot take effect before that.",
        ),
        (
            D(2026, 5, 1),
            "The subscription ended on 2026-04-30: a change cannot take effect after that.",
        ),
    ]:
        refused(
            message,
            "effective_on",
            subscription_change_quantity,
            subscription=subscription,
            quantity=3,
            effective_on=effective_on,
        )
    refused(
        "A seat quantity cannot be negative.",
        "quantity",
        subscription_change_quantity,
        subscription=subscription,
        quantity=-3,
        effective_on=D(2026, 3, 5),
    )


# --- end -------------------------------------------------------------------------------------


def test_end_sets_the_last_billed_day_and_audits(world):
    subscription = create(world)
    ended = subscription_end(subscription=subscription, ended_on=D(2026, 3, 31), actor=ACTOR)
    assert Subscription.objects.get(pk=subscription.pk).ended_on == D(2026, 3, 31)
    assert ended.ended_on == D(2026, 3, 31)
    entry = AuditEntry.objects.get(action="subscription.ended")
    assert (entry.before, entry.after) == ({"ended_on": None}, {"ended_on": "2026-03-31"})
    # The plan is free again from the next day.
    create(world, started_on=D(2026, 4, 1))


def test_end_refusals(world):
    subscription = create(world)
    subscription_change_quantity(
        subscription=subscription, quantity=4, effective_on=D(2026, 3, 20), actor=ACTOR
    )
    refused(
        "The subscription starts on 2026-03-01: it cannot end before.",
        "ended_on",
        subscription_end,
        subscription=subscription,
        ended_on=D(2026, 2, 28),
    )
    refused(
        "A seat change takes effect on 2026-03-20, after that end date.",
        "ended_on",
        subscription_end,
        subscription=subscription,
        ended_on=D(2026, 3, 19),
    )
    subscription_end(subscription=subscription, ended_on=D(2026, 3, 20), actor=ACTOR)
    refused(
        "The subscription already ended on 2026-03-20.",
        "ended_on",
        subscription_end,
        subscription=subscription,
        ended_on=D(2026, 3, 25),
    )


# --- database checks -------------------------------------------------------------------------


def test_the_database_refuses_negative_quantities_and_ends_before_starts(world):
    subscription = create(world)
    bad = [
        lambda: Subscription.objects.filter(pk=subscription.pk).update(quantity=-1),
        lambda: Subscription.objects.filter(pk=subscription.pk).update(ended_on=D(2026, 2, 1)),
        lambda: SeatQuantityChange.objects.filter(subscription=subscription).update(quantity=-1),
        lambda: SeatQuantityChange.objects.create(
            subscription=subscription, quantity=1, effective_on=D(2026, 3, 1)
        ),
    ]
    for attempt in bad:
        with pytest.raises(IntegrityError), transaction.atomic():
            attempt()
    subscription.refresh_from_db()
    assert (subscription.quantity, subscription.ended_on) == (10, None)
    assert changes_of(subscription) == [(D(2026, 3, 1), 10)]
