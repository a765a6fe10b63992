"""Subscription pages, shared by the portal and the console.

- The "Subscriptions" section of a client's page (portal: registered through
  `partners.client_sections`; console: the page `console:client_subscriptions`): the client's
  subscriptions with their seat history and, for users who may change them, the forms to
  subscribe, change seats and end a subscription.
- The forms post to small pages (`…:client_subscription_create`, `…:subscription_quantity`,
  `…:subscription_end`) that call the subscription services and go back to the client with a
  message; a refusal shows the form again on its own page, the error next to its field.

Portal: `portal_view(Capability.MANAGE_CLIENTS)` and every lookup through `request.partner`
(another partner's client or subscription is a 404, nothing changes). Console: any console user
reads; finance and admins change (others get 403).
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse

from billing.errors import BillingError
from billing.forms_subscriptions import (
    QuantityChangeForm,
    SubscriptionCreateForm,
    SubscriptionEndForm,
)
from billing.models import SeatQuantityChange, Subscription
from billing.services.subscriptions import (
    subscription_change_quantity,
    subscription_create,
    subscription_end,
)
from billing.views.console_catalog import can_edit_catalog, catalog_editor, console_reader
from core.actors import Actor
from partners.access import portal_view
from partners.enums import ClientStatus
from partners.models import Client, Partner
from partners.permissions import Capability, role_can
from partners.services.partners import today_for_vendor

PORTAL = "portal"
CONSOLE = "console"
BASE_TEMPLATES = {PORTAL: "portal/base.html", CONSOLE: "console/base.html"}
UNBILLED_LABELS = {ClientStatus.TRIAL: "trial", ClientStatus.NFR: "NFR"}


def _day(day: datetime.date) -> str:
    """3 Mar 2026"""
    return f"{day.day} {day:%b %Y}"


def add_service_error(form, error: BillingError) -> None:
    name = error.field if error.field in form.fields else None
    form.add_error(name, str(error))


# ---- what a subscription looks like on a page ------------------------------------------------


@dataclass(frozen=True)
class QuantityRow:
    effective_on: datetime.date
    quantity: int
    first: bool  # the initial quantity, at the start
    scheduled: bool  # takes effect after today


@dataclass
class SubscriptionRow:
    subscription: Subscription
    seats_now: int | None  # None: not started yet, or ended
    state: str  # active, scheduled, ended
    state_label: str
    history: list[QuantityRow]
    quantity_form: QuantityChangeForm | None = None
    end_form: SubscriptionEndForm | None = None
    quantity_url: str = ""
    end_url: str = ""

    @property
    def badge(self) -> str:
        return {"active": "badge-success", "scheduled": "badge-info"}.get(
            self.state, "badge-neutral"
        )


def _changes(subscription: Subscription) -> list[SeatQuantityChange]:
    """The seat changes (prefetched) by the day they take effect."""
    return sorted(subscription.quantity_changes.all(), key=lambda c: (c.effective_on, c.pk))


def seats_on(subscription: Subscription, day: datetime.date) -> int | None:
    """Seats in effect on `day`; None outside the subscription's dates."""
    if day < subscription.started_on or (
        subscription.ended_on is not None and day > subscription.ended_on
    ):
        return None
    seats = None
    for change in _changes(subscription):
        if change.effective_on <= day:
            seats = change.quantity
    return subscription.quantity if seats is None else seats


def subscription_row(subscription: Subscription, today: datetime.date) -> SubscriptionRow:
    if subscription.started_on > today:
        state, label = "scheduled", f"Starts {_day(subscription.started_on)}"
    elif subscription.ended_on is not None and subscription.ended_on < today:
        state, label = "ended", f"Ended {_day(subscription.ended_on)}"
    elif subscription.ended_on is not None:
        state, label = "active", f"Active until {_day(subscription.ended_on)}"
    else:
        state, label = "active", "Active"
    history = [
        QuantityRow(
            effective_on=change.effective_on,
            quantity=change.quantity,
            first=change.effective_on == subscription.started_on,
            scheduled=change.effective_on > today,
        )
        for change in _changes(subscription)
    ]
    return SubscriptionRow(
        subscription=subscription,
        seats_now=seats_on(subscription, today),
        state=state,
        state_label=label,
        history=history,
    )


def subscription_rows(
    subscriptions: list[Subscription], today: datetime.date
) -> list[SubscriptionRow]:
    return [subscription_row(subscription, today) for subscription in subscriptions]


def _client_subscriptions(client: Client) -> list[Subscription]:
    return list(
        Subscription.objects.filter(client=client)
        .select_related("price_plan")
        .prefetch_related("quantity_changes")
        .order_by("-started_on", "-id")
    )


# ---- the section -----------------------------------------------------------------------------


def _url(area: str, name: str, pk: int) -> str:
    return reverse(f"{area}:{name}", args=[pk])


def _back_to_client(area: str, client_id: int) -> str:
    if area == PORTAL:
        return reverse("portal:client_detail", args=[client_id]) + "#client-subscriptions"
    return reverse("console:client_subscriptions", args=[client_id])


def section_context(
    request: HttpRequest,
    client: Client,
    *,
    area: str,
    partner: Partner,
    can_manage: bool,
) -> dict[str, Any]:
    today = today_for_vendor()
    rows = subscription_rows(_client_subscriptions(client), today)
    if can_manage:
        for row in rows:
            sub = row.subscription
            if row.state == "ended":
                continue
            row.quantity_form = QuantityChangeForm(
                initial={"quantity": row.seats_now, "effective_on": max(today, sub.started_on)},
                auto_id=f"id_sub{sub.pk}_quantity_%s",
            )
            if sub.ended_on is None:
                row.end_form = SubscriptionEndForm(
                    initial={"ended_on": max(today, sub.started_on)},
                    auto_id=f"id_sub{sub.pk}_end_%s",
                )
                row.end_url = _url(area, "subscription_end", sub.pk)
            row.quantity_url = _url(area, "subscription_quantity", sub.pk)
    create_form = None
    if can_manage and client.status != ClientStatus.CHURNED and partner.currency:
        create_form = SubscriptionCreateForm(
            currency=partner.currency,
            initial={"started_on": max(today, client.started_on), "quantity": 1},
            auto_id=f"id_client{client.pk}_subscribe_%s",
        )
    return {
        "client": client,
        "partner": partner,
        "area": area,
        "rows": rows,
        "can_manage": can_manage,
        "create_form": create_form,
        "has_plans": create_form is not None and create_form.fields["price_plan"].queryset.exists(),
        "create_url": _url(area, "client_subscription_create", client.pk),
        "unbilled_label": UNBILLED_LABELS.get(client.status, ""),
    }


def render_section(request: HttpRequest, client: Client, area: str) -> str | None:
    """The renderer registered for the client pages' "subscriptions" section."""
    if area == PORTAL:
        partner = getattr(request, "partner", None)
        membership = getattr(request, "membership", None)
        if partner is None or membership is None or client.partner_id != partner.pk:
            return None
        can_manage = (
            role_can(membership.role, Capability.MANAGE_CLIENTS) and not partner.is_read_only
        )
    else:
        partner = client.partner
        can_manage = can_edit_catalog(request.user)
    context = section_context(request, client, area=area, partner=partner, can_manage=can_manage)
    return render_to_string("billing/subscriptions/_section.html", context, request=request)


# ---- the form pages (shared) -----------------------------------------------------------------


def _render_form(
    request: HttpRequest,
    *,
    area: str,
    client: Client,
    form,
    title: str,
    submit: str,
    row: SubscriptionRow | None = None,
    danger: bool = False,
) -> HttpResponse:
    context = {
        "base_template": BASE_TEMPLATES[area],
        "area": area,
        "client": client,
        "form": form,
        "title": title,
        "submit": submit,
        "row": row,
        "danger": danger,
        "back_url": _back_to_client(area, client.pk),
    }
    return render(request, "billing/subscriptions/form.html", context)


def subscribe(request: HttpRequest, *, area: str, client: Client, partner: Partner):
    today = today_for_vendor()
    form = SubscriptionCreateForm(
        request.POST or None,
        currency=partner.currency,
        initial={"started_on": max(today, client.started_on), "quantity": 1},
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            subscription = subscription_create(
                client=client,
                price_plan=data["price_plan"],
                quantity=data["quantity"],
                started_on=data["started_on"],
                actor=Actor.from_request(request),
            )
        except BillingError as exc:
            add_service_error(form, exc)
        else:
            seats = subscription.quantity
            messages.success(
                request,
                f"{client.name} is subscribed to {data['price_plan'].name} with {seats} "
                f"seat{'' if seats == 1 else 's'} from {_day(subscription.started_on)}.",
            )
            return redirect(_back_to_client(area, client.pk))
    return _render_form(
        request,
        area=area,
        client=client,
        form=form,
        title=f"Subscribe {client.name} to a price plan",
        submit="Subscribe",
    )


def change_quantity(request: HttpRequest, *, area: str, subscription: Subscription):
    client = subscription.client
    today = today_for_vendor()
    row = subscription_row(subscription, today)
    form = QuantityChangeForm(
        request.POST or None,
        initial={
            "quantity": row.seats_now,
            "effective_on": max(today, subscription.started_on),
        },
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            subscription_change_quantity(
                subscription=subscription,
                quantity=data["quantity"],
                effective_on=data["effective_on"],
                actor=Actor.from_request(request),
            )
        except BillingError as exc:
            add_service_error(form, exc)
        else:
            seats = data["quantity"]
            messages.success(
                request,
                f"{subscription.price_plan.name} for {client.name}: {seats} "
                f"seat{'' if seats == 1 else 's'} from {_day(data['effective_on'])}.",
            )
            return redirect(_back_to_client(area, client.pk))
    return _render_form(
        request,
        area=area,
        client=client,
        form=form,
        title=f"Change the seats of {subscription.price_plan.name}",
        submit="Change seats",
        row=row,
    )


def end(request: HttpRequest, *, area: str, subscription: Subscription):
    client = subscription.client
    today = today_for_vendor()
    row = subscription_row(subscription, today)
    form = SubscriptionEndForm(
        request.POST or None, initial={"ended_on": max(today, subscription.started_on)}
    )
    if request.method == "POST" and form.is_valid():
        try:
            ended = subscription_end(
                subscription=subscription,
                ended_on=form.cleaned_data["ended_on"],
                actor=Actor.from_request(request),
            )
        except BillingError as exc:
            add_service_error(form, exc)
        else:
            messages.success(
                request,
                f"{subscription.price_plan.name} for {client.name} ends on "
                f"{_day(ended.ended_on)}, the last day billed.",
            )
            return redirect(_back_to_client(area, client.pk))
    return _render_form(
        request,
        area=area,
        client=client,
        form=form,
        title=f"End the {subscription.price_plan.name} subscription",
        submit="End the subscription",
        row=row,
        danger=True,
    )


# ---- portal ----------------------------------------------------------------------------------


def _portal_writable(request: HttpRequest) -> None:
    """The form pages change things: a read-only (suspended) partner gets 403 on GET too."""
    if request.partner.is_read_only:
        raise PermissionDenied(f"{request.partner.name} is read-only.")


def _portal_subscription(request: HttpRequest, pk: int) -> Subscription:
    return get_object_or_404(
        Subscription.objects.select_related("client", "price_plan").prefetch_related(
            "quantity_changes"
        ),
        pk=pk,
        client__partner=request.partner,
    )


@portal_view(Capability.MANAGE_CLIENTS)
def portal_subscription_create(request: HttpRequest, pk: int) -> HttpResponse:
    client = get_object_or_404(Client, pk=pk, partner=request.partner)
    _portal_writable(request)
    return subscribe(request, area=PORTAL, client=client, partner=request.partner)


@portal_view(Capability.MANAGE_CLIENTS)
def portal_subscription_quantity(request: HttpRequest, pk: int) -> HttpResponse:
    subscription = _portal_subscription(request, pk)
    _portal_writable(request)
    return change_quantity(request, area=PORTAL, subscription=subscription)


@portal_view(Capability.MANAGE_CLIENTS)
def portal_subscription_end(request: HttpRequest, pk: int) -> HttpResponse:
    subscription = _portal_subscription(request, pk)
    _portal_writable(request)
    return end(request, area=PORTAL, subscription=subscription)


# ---- console ---------------------------------------------------------------------------------


def _console_subscription(pk: int) -> Subscription:
    return get_object_or_404(
        Subscription.objects.select_related("client", "price_plan").prefetch_related(
            "quantity_changes"
        ),
        pk=pk,
    )


@console_reader
def console_client_subscriptions(request: HttpRequest, pk: int) -> HttpResponse:
    client = get_object_or_404(Client.objects.select_related("partner"), pk=pk)
    context = section_context(
        request,
        client,
        area=CONSOLE,
        partner=client.partner,
        can_manage=can_edit_catalog(request.user),
    )
    return render(request, "billing/subscriptions/console_client.html", context)


@catalog_editor
def console_subscription_create(request: HttpRequest, pk: int) -> HttpResponse:
    client = get_object_or_404(Client.objects.select_related("partner"), pk=pk)
    return subscribe(request, area=CONSOLE, client=client, partner=client.partner)


@catalog_editor
def console_subscription_quantity(request: HttpRequest, pk: int) -> HttpResponse:
    return change_quantity(request, area=CONSOLE, subscription=_console_subscription(pk))


@catalog_editor
def console_subscription_end(request: HttpRequest, pk: int) -> HttpResponse:
    return end(request, area=CONSOLE, subscription=_console_subscription(pk))
