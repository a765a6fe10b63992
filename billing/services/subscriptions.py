"""Writes to subscriptions: create, seat quantity changes, end; and the selector that turns a
subscription's rows into the pure seat-counting engine's input.

Every write runs in one transaction with one audit row and raises `BillingError` naming the
field (in the API's terms) before anything is saved. Rules:

- a subscription belongs to a client that has not churned, starts no earlier than the client,
  and is on a plan in the partner's billing currency (an invoice has one currency);
- a client may have several subscriptions, but never two overlapping ones on the same plan:
  checked under a lock on the client's row, so two concurrent creates cannot both pass;
- seat changes take effect on a day within the subscription's dates. A change on a day that
  already has one *replaces* it (the quantity is corrected, the day keeps one row): a day has one
  quantity in effect at its start, which is what seat counting reads;
- `Subscription.quantity` is kept equal to the quantity of the latest-effective change.
"""

from __future__ import annotations

import datetime
from typing import Any

from django.db import transaction

from billing.errors import BillingError
from billing.models import PricePlan, SeatQuantityChange, Subscription
from billing.rating.seats import QuantityChange, SeatSubscription
from core.actors import Actor
from core.services.audit import audit_record, snapshot
from partners.enums import ClientStatus
from partners.models import Client

MAX_SEATS = 2_147_483_647  # the column is a PostgreSQL integer


def clean_quantity(value: Any, *, field: str = "quantity") -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise BillingError("A seat quantity is a whole number.", field=field)
    if value < 0:
        raise BillingError("A seat quantity cannot be negative.", field=field)
    if value > MAX_SEATS:
        raise BillingError("That seat quantity is too large.", field=field)
    return value


def _check_date(value: Any, *, field: str) -> datetime.date:
    if not isinstance(value, datetime.date) or isinstance(value, datetime.datetime):
        raise BillingError("Dates are YYYY-MM-DD.", field=field)
    return value


def _overlaps(
    a_start: datetime.date,
    a_end: datetime.date | None,
    b_start: datetime.date,
    b_end: datetime.date | None,
) -> bool:
    return (a_end is None or b_start <= a_end) and (b_end is None or a_start <= b_end)


def _latest_quantity(subscription: Subscription) -> int:
    latest = (
        SeatQuantityChange.objects.filter(subscription=subscription)
        .order_by("-effective_on", "-id")
        .values_list("quantity", flat=True)
        .first()
    )
    return latest if latest is not None else subscription.quantity


def subscription_create(
    *,
    client: Client,
    price_plan: PricePlan,
    quantity: int,
    started_on: datetime.date,
    actor: Actor,
    ended_on: datetime.date | None = None,
) -> Subscription:
    quantity = clean_quantity(quantity)
    started_on = _check_date(started_on, field="started_on")
    if ended_on is not None:
        ended_on = _check_date(ended_on, field="ended_on")
        if ended_on < started_on:
            raise BillingError("A subscription cannot end before it starts.", field="ended_on")
    with transaction.atomic():
        # The lock serialises every subscription write of this client: the overlap check below
        # cannot race another create.
        locked = Client.objects.select_related("partner").select_for_update().get(pk=client.pk)
        if locked.status == ClientStatus.CHURNED:
            raise BillingError(
                f"{locked.name} has churned: a churned client cannot subscribe.", field="client"
            )
        if started_on < locked.started_on:
            raise BillingError(
                f"{locked.name} started on {locked.started_on:%Y-%m-%d}: a subscription cannot "
                "start before its client.",
                field="started_on",
            )
        partner = locked.partner
        if not partner.currency:
            raise BillingError(
                f"{partner.name} has no billing currency yet: complete its billing profile first.",
                field="price_plan",
            )
        if price_plan.currency != partner.currency:
            raise BillingError(
                f"The plan {price_plan.code} is priced in {price_plan.currency}, but "
                f"{partner.name} is billed in {partner.currency}: "
                f"choose a {partner.currency} plan.",
                field="price_plan",
            )
        for other in Subscription.objects.filter(client=locked, price_plan=price_plan):
            if _overlaps(other.started_on, other.ended_on, started_on, ended_on):
                until = f" until {other.ended_on:%Y-%m-%d}" if other.ended_on else ""
                raise BillingError(
                    f"{locked.name} is already subscribed to {price_plan.code} from "
                    f"{other.started_on:%Y-%m-%d}{until} (subscription {other.pk}).",
                    field="started_on",
                )
        subscription = Subscription.objects.create(
            client=locked,
            price_plan=price_plan,
            quantity=quantity,
            started_on=started_on,
            ended_on=ended_on,
        )
        SeatQuantityChange.objects.create(
            subscription=subscription, quantity=quantity, effective_on=started_on
        )
        audit_record(
            actor=actor,
            action="subscription.created",
            instance=subscription,
            after=snapshot(subscription),
        )
    return subscription


def subscription_change_quantity(
    *,
    subscription: Subscription,
    quantity: int,
    effective_on: datetime.date,
    actor: Actor,
) -> SeatQuantityChange:
    """Seats from `effective_on` on. A change already recorded for that day is replaced."""
    quantity = clean_quantity(quantity)
    effective_on = _check_date(effective_on, field="effective_on")
    with transaction.atomic():
        Client.objects.select_for_update().filter(pk=subscription.client_id).first()
        locked = Subscription.objects.select_for_update().get(pk=subscription.pk)
        if effective_on < locked.started_on:
            raise BillingError(
                f"The subscription starts on {locked.started_on:%Y-%m-%d}: a change cannot take "
                "effect before that.",
                field="effective_on",
            )
        if locked.ended_on is not None and effective_on > locked.ended_on:
            raise BillingError(
                f"The subscription ended on {locked.ended_on:%Y-%m-%d}: a change cannot take "
                "effect after that.",
                field="effective_on",
            )
        change = SeatQuantityChange.objects.filter(
            subscription=locked, effective_on=effective_on
        ).first()
        replaced = change.quantity if change is not None else None
        if change is None:
            change = SeatQuantityChange.objects.create(
                subscription=locked, quantity=quantity, effective_on=effective_on
            )
        elif change.quantity != quantity:
            change.quantity = quantity
            change.save(update_fields=["quantity"])
        latest = _latest_quantity(locked)
        if latest != locked.quantity:
            locked.quantity = latest
            locked.save(update_fields=["quantity"])
        audit_record(
            actor=actor,
            action="subscription.quantity_changed",
            instance=locked,
            after={
                "quantity": quantity,
                "effective_on": str(effective_on),
                # The quantity this change replaced on the same day (null: a new day).
                "replaced_quantity": replaced,
                "current_quantity": latest,
            },
        )
    subscription.quantity = locked.quantity
    return change


def subscription_end(
    *, subscription: Subscription, ended_on: datetime.date, actor: Actor
) -> Subscription:
    """The subscription is billed up to and including `ended_on`."""
    ended_on = _check_date(ended_on, field="ended_on")
    with transaction.atomic():
        Client.objects.select_for_update().filter(pk=subscription.client_id).first()
        locked = Subscription.objects.select_for_update().get(pk=subscription.pk)
        if locked.ended_on is not None:
            raise BillingError(
                f"The subscription already ended on {locked.ended_on:%Y-%m-%d}.", field="ended_on"
            )
        if ended_on < locked.started_on:
            raise BillingError(
                f"The subscription starts on {locked.started_on:%Y-%m-%d}: it cannot end before.",
                field="ended_on",
            )
        later = (
            SeatQuantityChange.objects.filter(subscription=locked, effective_on__gt=ended_on)
            .order_by("effective_on")
            .values_list("effective_on", flat=True)
            .first()
        )
        if later is not None:
            raise BillingError(
                f"A seat change takes effect on {later:%Y-%m-%d}, after that end date.",
                field="ended_on",
            )
        before = snapshot(locked)
        locked.ended_on = ended_on
        locked.save(update_fields=["ended_on"])
        audit_record(
            actor=actor,
            action="subscription.ended",
            instance=locked,
            before=before,
            after=snapshot(locked),
        )
    return locked


def seat_subscription_for(subscription: Subscription) -> SeatSubscription:
    """The subscription as the pure seat-counting engine's input: its dates and its changes in
    the order they were recorded. Uses prefetched `quantity_changes` when present."""
    changes = sorted(subscription.quantity_changes.all(), key=lambda change: change.pk)
    return SeatSubscription(
        started_on=subscription.started_on,
        ended_on=subscription.ended_on,
        changes=tuple(QuantityChange(change.effective_on, change.quantity) for change in changes),
    )
