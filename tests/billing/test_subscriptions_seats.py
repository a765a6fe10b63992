"""`seat_subscription_for`: subscription rows → the pure engine's SeatSubscription (changes in
recorded order, same-day replacements in place), and `count_seats` on it with exact values."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.db.models import Prefetch
from django_tenants.utils import tenant_context

from billing.models import SeatQuantityChange, Subscription
from billing.rating.seats import BillingMonth, QuantityChange, SeatSubscription, count_seats
from billing.services.catalog import price_plan_create
from billing.services.subscriptions import (
    seat_subscription_for,
    subscription_change_quantity,
    subscription_create,
    subscription_end,
)
from core.actors import Actor
from tests.factories import ClientFactory, PartnerFactory

pytestmark = pytest.mark.django_db

ACTOR = Actor.system("seat tests")
D = datetime.date
APRIL = BillingMonth(2026, 4)  # 30 days


@pytest.fixture
def subscription(vendor_a):
    with tenant_context(vendor_a.vendor):
        partner = PartnerFactory(currency="EUR")
        client = ClientFactory(partner=partner, started_on=D(2026, 1, 1))
        plan = price_plan_create(
            code="seats",
            name="Seats",
            currency="EUR",
            effective_from=D(2026, 1, 1),
            charges=[
                {"seats": True, "model": "per_unit", "unit_price": "3", "counting_rule": "peak"}
            ],
            actor=ACTOR,
        )
        subscription = subscription_create(
            client=client, price_plan=plan, quantity=3, started_on=D(2026, 4, 1), actor=ACTOR
        )

        def change(quantity: int, day: int) -> None:
            subscription_change_quantity(
                subscription=subscription,
                quantity=quantity,
                effective_on=D(2026, 4, day),
                actor=ACTOR,
            )

        # Recorded out of date order, and the 16th's 50 corrected to 9 the same day.
        change(6, 21)
        change(50, 16)
        change(9, 16)
        subscription_end(subscription=subscription, ended_on=D(2026, 4, 25), actor=ACTOR)
        yield Subscription.objects.get(pk=subscription.pk)


def test_the_conversion_keeps_the_recorded_order_and_the_dates(subscription):
    assert seat_subscription_for(subscription) == SeatSubscription(
        started_on=D(2026, 4, 1),
        ended_on=D(2026, 4, 25),
        changes=(
            QuantityChange(D(2026, 4, 1), 3),
            QuantityChange(D(2026, 4, 21), 6),
            QuantityChange(D(2026, 4, 16), 9),  # replaced in place: keeps its position
        ),
    )


def test_count_seats_on_the_converted_subscription_is_exact(subscription):
    seats = seat_subscription_for(subscription)
    # 1–15: 3 seats (45 seat-days), 16–20: 9 (45), 21–25: 6 (30), 26–30: ended (0) → 120 / 30.
    assert count_seats("average", seats, APRIL) == Decimal("4")
    # The replaced 50 was never in effect.
    assert count_seats("peak", seats, APRIL) == Decimal("9")
    # Ends mid-month: the quantity on its end date.
    assert count_seats("snapshot", seats, APRIL) == Decimal("6")
    for month in (BillingMonth(2026, 3), BillingMonth(2026, 5)):
        assert [count_seats(rule, seats, month) for rule in ("average", "peak", "snapshot")] == [
            Decimal(0)
        ] * 3


def test_an_open_ended_subscription_counts_to_the_month_end(subscription):
    Subscription.objects.filter(pk=subscription.pk).update(ended_on=None)
    seats = seat_subscription_for(Subscription.objects.get(pk=subscription.pk))
    # Open-ended: 1–15 at 3 (45), 16–20 at 9 (45), 21–30 at 6 (60) → 150 / 30.
    assert count_seats("average", seats, APRIL) == Decimal("5")
    # May: 6 seats all month.
    assert count_seats("average", seats, BillingMonth(2026, 5)) == Decimal("6")
    assert count_seats("snapshot", seats, BillingMonth(2026, 5)) == Decimal("6")


def test_prefetched_changes_convert_without_queries(subscription, django_assert_num_queries):
    loaded = list(
        Subscription.objects.prefetch_related(
            Prefetch("quantity_changes", queryset=SeatQuantityChange.objects.all())
        )
    )
    with django_assert_num_queries(0):
        converted = [seat_subscription_for(s) for s in loaded]
    assert [len(s.changes) for s in converted] == [3]
