"""Subscription pages: the "Subscriptions" section of the portal's client page and the console's
client subscriptions page (plan, seats now, dates, the seat history), subscribing, changing seats
and ending through the forms, readable errors with nothing saved, partner scoping (another
partner's client or subscription is a 404 and nothing changes), roles (403 and nothing changes),
the trial / NFR note, and query counts that do not grow with the number of subscriptions."""

from __future__ import annotations

import datetime
import re
from html import unescape

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_tenants.utils import schema_context

from billing.models import SeatQuantityChange, Subscription
from billing.services.catalog import price_plan_create
from billing.services.subscriptions import (
    subscription_change_quantity,
    subscription_create,
    subscription_end,
)
from core.actors import Actor
from core.models import AuditEntry
from partners.enums import PartnerStatus
from tests.factories import ClientFactory, PartnerFactory
from tests.partners.clients_support import portal_as
from tests.partners.program_fixtures import console_client

pytestmark = pytest.mark.django_db

ACTOR = Actor.system("subscription page tests")
D = datetime.date
NOW = datetime.datetime(2026, 3, 15, 11, 0, tzinfo=datetime.UTC)  # 15 March 2026 in Berlin
DAY = "2026-03-20"
SEATS = [{"seats": True, "model": "per_unit", "unit_price": "3", "counting_rule": "average"}]


@pytest.fixture(autouse=True)
def frozen(monkeypatch):
    monkeypatch.setattr(timezone, "now", lambda: NOW)


def make_plan(code: str, name: str, currency: str = "EUR"):
    return price_plan_create(
        code=code,
        name=name,
        currency=currency,
        charges=SEATS,
        effective_from=D(2026, 1, 1),
        actor=ACTOR,
    )


@pytest.fixture
def world(vendor_a):
    with schema_context(vendor_a.schema):
        plans = {
            "backup": make_plan("backup-eur", "Backup EUR"),
            "edr": make_plan("edr-eur", "EDR EUR"),
            "usd": make_plan("backup-usd", "Backup USD", "USD"),
        }
        partner = PartnerFactory(name="Acme IT", currency="EUR")
        client = ClientFactory(partner=partner, name="Kiwi GmbH", started_on=D(2026, 1, 1))
        subscription = subscription_create(
            client=client,
            price_plan=plans["backup"],
            quantity=10,
            started_on=D(2026, 2, 1),
            actor=ACTOR,
        )
        subscription_change_quantity(
            subscription=subscription, quantity=14, effective_on=D(2026, 3, 1), actor=ACTOR
        )
        subscription_change_quantity(
            subscription=subscription, quantity=20, effective_on=D(2026, 4, 1), actor=ACTOR
        )
        rival = PartnerFactory(name="Rival MSP", currency="EUR")
        rival_client = ClientFactory(partner=rival, name="Rival Co", started_on=D(2026, 1, 1))
        rival_subscription = subscription_create(
            client=rival_client,
            price_plan=plans["backup"],
            quantity=5,
            started_on=D(2026, 1, 1),
            actor=ACTOR,
        )
    return {
        "plans": plans,
        "partner": partner,
        "client": client,
        "subscription": subscription,
        "rival": rival,
        "rival_client": rival_client,
        "rival_subscription": rival_subscription,
    }


def state(tv) -> dict:
    with schema_context(tv.schema):
        return {
            "subscriptions": list(Subscription.objects.order_by("pk").values()),
            "changes": list(SeatQuantityChange.objects.order_by("pk").values()),
            "audit": AuditEntry.objects.count(),
        }


def text(response) -> str:
    return response.content.decode()


def squash(html: str) -> str:
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html))).strip()


# ---- the portal's section --------------------------------------------------------------------


def test_the_client_page_lists_subscriptions_with_their_seat_history(vendor_a, world):
    client = world["client"]
    viewer = portal_as(vendor_a, world["partner"], "viewer")
    html = text(viewer.get(f"/portal/clients/{client.pk}/"))
    assert '<h2 id="subscriptions-heading">Subscriptions</h2>' in html
    page = squash(html)
    assert (
        "Backup EUR backup-eur Active Seats now 14 Started 1 Feb 2026 "
        "Last day billed — (runs until ended) "
        "Seat history of Backup EUR From Seats Change 1 Feb 2026 10 Start "
        "1 Mar 2026 14 Seat change 1 Apr 2026 20 Seat change Scheduled"
    ) in page
    # A viewer reads; no forms.
    assert "/subscriptions/new/" not in html and "/quantity/" not in html
    assert "Not billed while" not in html
    # The placeholder of the section is gone; the other sections keep theirs.
    assert "The price plans and seats this client subscribes to will be listed here" not in html


@pytest.mark.parametrize("status, label", [("trial", "trial"), ("nfr", "NFR")])
def test_trial_and_nfr_clients_say_they_are_not_billed(vendor_a, world, status, label):
    with schema_context(vendor_a.schema):
        client = ClientFactory(partner=world["partner"], status=status, name="Free Co")
    html = text(
        portal_as(vendor_a, world["partner"], "viewer").get(f"/portal/clients/{client.pk}/")
    )
    assert f"<strong>Not billed while {label}</strong>: Free Co is a" in html
    assert "No subscriptions yet" in html


def test_a_technician_gets_the_forms_with_the_partners_plans_only(vendor_a, world):
    client, sub = world["client"], world["subscription"]
    tech = portal_as(vendor_a, world["partner"], "technician")
    html = text(tech.get(f"/portal/clients/{client.pk}/"))
    assert f'action="/portal/clients/{client.pk}/subscriptions/new/"' in html
    assert f'action="/portal/subscriptions/{sub.pk}/quantity/"' in html
    assert f'action="/portal/subscriptions/{sub.pk}/end/"' in html
    # Plans in the partner's currency (EUR) only.
    assert "Backup EUR (backup-eur, EUR)" in html and "EDR EUR (edr-eur, EUR)" in html
    assert "backup-usd" not in html
    # Each form's inputs have their own ids and labels.
    assert f'<label for="id_sub{sub.pk}_quantity_quantity">New number of seats' in html
    assert re.search(
        rf'name="effective_on" value="2026-03-15"[^>]* id="id_sub{sub.pk}_quantity_effective_on"',
        html,
    )
    assert f'<label for="id_client{client.pk}_subscribe_price_plan">Price plan' in html


# ---- subscribe, change seats, end ------------------------------------------------------------


def test_a_client_is_subscribed_from_the_portal(vendor_a, world):
    client, edr = world["client"], world["plans"]["edr"]
    tech = portal_as(vendor_a, world["partner"], "technician")
    url = f"/portal/clients/{client.pk}/subscriptions/new/"
    assert tech.get(url).status_code == 200
    response = tech.post(url, {"price_plan": edr.pk, "quantity": "25", "started_on": "2026-03-20"})
    assert response.status_code == 302
    assert response["Location"] == f"/portal/clients/{client.pk}/#client-subscriptions"
    with schema_context(vendor_a.schema):
        sub = Subscription.objects.get(client=client, price_plan=edr)
        assert (sub.quantity, sub.started_on, sub.ended_on) == (25, D(2026, 3, 20), None)
        assert list(sub.quantity_changes.values_list("effective_on", "quantity")) == [
            (D(2026, 3, 20), 25)
        ]
        assert AuditEntry.objects.filter(
            action="subscription.created", object_id=str(sub.pk)
        ).exists()
    html = text(tech.get(response["Location"]))
    assert "Kiwi GmbH is subscribed to EDR EUR with 25 seats from 20 Mar 2026." in html
    assert "EDR EUR edr-eur Starts 20 Mar 2026 Seats now — Started 20 Mar 2026" in squash(html)


@pytest.mark.parametrize(
    "data, error_id, message",
    [
        (
            {"started_on": "2025-12-31"},
            "started_on",
            "Kiwi GmbH started on 2026-01-01: a subscription cannot start before its client.",
        ),
        (
            {"started_on": "2026-03-01", "price_plan": "backup"},
            "started_on",
            "Kiwi GmbH is already subscribed to backup-eur from 2026-02-01",
        ),
        ({"price_plan": "usd"}, "price_plan", "Choose one of the plans listed."),
        ({"quantity": "-1"}, "quantity", "Ensure this value is greater than or equal to 0."),
        ({"quantity": "many"}, "quantity", "Seats are a whole number, e.g. 25."),
        ({"started_on": "15/03/2026"}, "started_on", "Give a date as YYYY-MM-DD."),
    ],
)
def test_a_refused_subscription_is_explained_at_its_field(vendor_a, world, data, error_id, message):
    client, plans = world["client"], world["plans"]
    form = {"price_plan": plans["edr"].pk, "quantity": "5", "started_on": "2026-03-20", **data}
    if form["price_plan"] in plans:
        form["price_plan"] = plans[form["price_plan"]].pk
    before = state(vendor_a)
    response = portal_as(vendor_a, world["partner"], "owner").post(
        f"/portal/clients/{client.pk}/subscriptions/new/", form
    )
    assert response.status_code == 200
    html = text(response)
    assert f'<ul class="errorlist" id="id_{error_id}_error"><li>{message}' in html
    assert state(vendor_a) == before
    assert f'value="{form["started_on"]}"' in html  # what was typed stays


def test_seats_change_with_an_effective_date_and_the_subscription_ends(vendor_a, world):
    client, sub = world["client"], world["subscription"]
    tech = portal_as(vendor_a, world["partner"], "technician")
    response = tech.post(
        f"/portal/subscriptions/{sub.pk}/quantity/",
        {"quantity": "16", "effective_on": "2026-03-20"},
    )
    assert response.status_code == 302
    assert response["Location"] == f"/portal/clients/{client.pk}/#client-subscriptions"
    with schema_context(vendor_a.schema):
        assert list(
            SeatQuantityChange.objects.filter(subscription=sub)
            .order_by("effective_on")
            .values_list("effective_on", "quantity")
        ) == [(D(2026, 2, 1), 10), (D(2026, 3, 1), 14), (D(2026, 3, 20), 16), (D(2026, 4, 1), 20)]
    html = text(tech.get(response["Location"]))
    assert "Backup EUR for Kiwi GmbH: 16 seats from 20 Mar 2026." in html

    # An end date before a scheduled change is refused at the field; nothing changes.
    before = state(vendor_a)
    response = tech.post(f"/portal/subscriptions/{sub.pk}/end/", {"ended_on": "2026-03-31"})
    assert response.status_code == 200
    assert (
        '<ul class="errorlist" id="id_ended_on_error"><li>A seat change takes effect on '
        "2026-04-01, after that end date." in text(response)
    )
    assert state(vendor_a) == before
    response = tech.post(f"/portal/subscriptions/{sub.pk}/end/", {"ended_on": "2026-04-30"})
    assert response.status_code == 302
    with schema_context(vendor_a.schema):
        sub.refresh_from_db()
        assert sub.ended_on == D(2026, 4, 30)
    html = text(tech.get(response["Location"]))
    assert "Backup EUR for Kiwi GmbH ends on 30 Apr 2026, the last day billed." in html
    assert "Active until 30 Apr 2026" in html
    # Ended: no more end form; seat changes within its dates are still possible.
    assert f"/portal/subscriptions/{sub.pk}/end/" not in html
    assert f"/portal/subscriptions/{sub.pk}/quantity/" in html


def test_a_seat_change_outside_the_dates_is_refused(vendor_a, world):
    sub = world["subscription"]
    before = state(vendor_a)
    response = portal_as(vendor_a, world["partner"], "owner").post(
        f"/portal/subscriptions/{sub.pk}/quantity/", {"quantity": "3", "effective_on": "2026-01-15"}
    )
    assert response.status_code == 200
    html = text(response)
    assert (
        '<ul class="errorlist" id="id_effective_on_error"><li>The subscription starts on '
        "2026-02-01: a change cannot take effect before that." in html
    )
    # The page shows the subscription and its history around the form.
    assert "1 Apr 2026 20 Seat change Scheduled" in squash(html)
    assert 'value="3"' in html
    assert state(vendor_a) == before


# ---- scoping and roles -----------------------------------------------------------------------


def test_another_partners_clients_and_subscriptions_are_404_and_nothing_changes(vendor_a, world):
    owner = portal_as(vendor_a, world["partner"], "owner")
    rival_client, rival_sub = world["rival_client"], world["rival_subscription"]
    before = state(vendor_a)
    attempts = [
        ("get", f"/portal/clients/{rival_client.pk}/subscriptions/new/", None),
        (
            "post",
            f"/portal/clients/{rival_client.pk}/subscriptions/new/",
            {"price_plan": world["plans"]["edr"].pk, "quantity": "1", "started_on": "2026-03-20"},
        ),
        ("get", f"/portal/subscriptions/{rival_sub.pk}/quantity/", None),
        (
            "post",
            f"/portal/subscriptions/{rival_sub.pk}/quantity/",
            {"quantity": "99", "effective_on": "2026-03-20"},
        ),
        ("get", f"/portal/subscriptions/{rival_sub.pk}/end/", None),
        ("post", f"/portal/subscriptions/{rival_sub.pk}/end/", {"ended_on": "2026-03-31"}),
        ("post", "/portal/subscriptions/999999/end/", {"ended_on": "2026-03-31"}),
    ]
    for method, url, data in attempts:
        assert getattr(owner, method)(url, data).status_code == 404, (method, url)
    assert state(vendor_a) == before


@pytest.mark.parametrize("role", ["viewer", "billing"])
def test_roles_without_manage_clients_get_403_and_change_nothing(vendor_a, world, role):
    user = portal_as(vendor_a, world["partner"], role)
    client, sub = world["client"], world["subscription"]
    before = state(vendor_a)
    attempts = [
        ("get", f"/portal/clients/{client.pk}/subscriptions/new/", None),
        (
            "post",
            f"/portal/clients/{client.pk}/subscriptions/new/",
            {"price_plan": world["plans"]["edr"].pk, "quantity": "1", "started_on": "2026-03-20"},
        ),
        (
            "post",
            f"/portal/subscriptions/{sub.pk}/quantity/",
            {"quantity": "1", "effective_on": DAY},
        ),
        ("post", f"/portal/subscriptions/{sub.pk}/end/", {"ended_on": "2026-04-30"}),
    ]
    for method, url, data in attempts:
        assert getattr(user, method)(url, data).status_code == 403, (method, url)
    assert state(vendor_a) == before


def test_a_suspended_partner_sees_its_subscriptions_but_cannot_change_them(vendor_a, world):
    partner, client, sub = world["partner"], world["client"], world["subscription"]
    owner = portal_as(vendor_a, partner, "owner")
    with schema_context(vendor_a.schema):
        partner.status = PartnerStatus.SUSPENDED
        partner.save(update_fields=["status"])
    html = text(owner.get(f"/portal/clients/{client.pk}/"))
    assert "Backup EUR" in html
    assert "/subscriptions/new/" not in html and "/quantity/" not in html
    before = state(vendor_a)
    assert owner.get(f"/portal/subscriptions/{sub.pk}/end/").status_code == 403
    assert (
        owner.post(f"/portal/subscriptions/{sub.pk}/end/", {"ended_on": "2026-04-30"}).status_code
        == 403
    )
    assert state(vendor_a) == before


def test_a_churned_client_cannot_subscribe_again(vendor_a, world):
    with schema_context(vendor_a.schema):
        gone = ClientFactory(
            partner=world["partner"], status="churned", ended_on=D(2026, 2, 28), name="Gone Co"
        )
    html = text(portal_as(vendor_a, world["partner"], "owner").get(f"/portal/clients/{gone.pk}/"))
    assert "Gone Co has churned: a churned client cannot subscribe." in html
    assert f"/portal/clients/{gone.pk}/subscriptions/new/" not in html


# ---- the console -----------------------------------------------------------------------------


def test_the_console_shows_a_clients_subscriptions_to_every_role(vendor_a, world):
    client = world["client"]
    html = text(
        console_client(vendor_a, "analyst").get(f"/console/clients/{client.pk}/subscriptions/")
    )
    assert "<h1>Subscriptions of Kiwi GmbH</h1>" in html
    page = squash(html)
    assert "A client of Acme IT , billed in EUR." in page
    assert "Backup EUR backup-eur Active Seats now 14 Started 1 Feb 2026" in page
    assert "/subscriptions/new/" not in html
    # Clients is the current sidebar entry.
    assert 'href="/console/clients/" aria-current="page"' in html


def test_finance_manages_subscriptions_from_the_console(vendor_a, world):
    client, sub = world["client"], world["subscription"]
    finance = console_client(vendor_a, "finance")
    html = text(finance.get(f"/console/clients/{client.pk}/subscriptions/"))
    assert f'action="/console/clients/{client.pk}/subscriptions/new/"' in html
    response = finance.post(
        f"/console/subscriptions/{sub.pk}/quantity/",
        {"quantity": "30", "effective_on": "2026-04-01"},
    )
    assert response.status_code == 302
    assert response["Location"] == f"/console/clients/{client.pk}/subscriptions/"
    response = finance.post(
        f"/console/clients/{world['rival_client'].pk}/subscriptions/new/",
        {"price_plan": world["plans"]["edr"].pk, "quantity": "2", "started_on": "2026-03-16"},
    )
    assert response.status_code == 302
    with schema_context(vendor_a.schema):
        sub.refresh_from_db()
        assert sub.quantity == 30  # the same-day change replaced the one of 1 April
        assert Subscription.objects.filter(
            client=world["rival_client"], price_plan=world["plans"]["edr"], quantity=2
        ).exists()
    html = text(finance.get(f"/console/clients/{client.pk}/subscriptions/"))
    assert "1 Apr 2026 30 Seat change Scheduled" in squash(html)


@pytest.mark.parametrize("role", ["analyst", "support", "channel_manager"])
def test_other_console_roles_get_403_on_subscription_changes(vendor_a, world, role):
    user = console_client(vendor_a, role)
    client, sub = world["client"], world["subscription"]
    before = state(vendor_a)
    attempts = [
        ("get", f"/console/clients/{client.pk}/subscriptions/new/", None),
        (
            "post",
            f"/console/clients/{client.pk}/subscriptions/new/",
            {"price_plan": world["plans"]["edr"].pk, "quantity": "1", "started_on": "2026-03-20"},
        ),
        (
            "post",
            f"/console/subscriptions/{sub.pk}/quantity/",
            {"quantity": "1", "effective_on": DAY},
        ),
        ("post", f"/console/subscriptions/{sub.pk}/end/", {"ended_on": "2026-04-30"}),
    ]
    for method, url, data in attempts:
        assert getattr(user, method)(url, data).status_code == 403, (method, url)
    assert state(vendor_a) == before


def test_partner_users_get_403_on_the_console_subscription_pages(vendor_a, world):
    owner = portal_as(vendor_a, world["partner"], "owner")
    before = state(vendor_a)
    assert owner.get(f"/console/clients/{world['client'].pk}/subscriptions/").status_code == 403
    response = owner.post(
        f"/console/subscriptions/{world['subscription'].pk}/end/", {"ended_on": "2026-04-30"}
    )
    assert response.status_code == 403
    assert state(vendor_a) == before


def test_a_plans_subscribers_link_to_their_clients(vendor_a, world):
    plan = world["plans"]["backup"]
    with schema_context(vendor_a.schema):
        subscription_end(
            subscription=world["rival_subscription"], ended_on=D(2026, 2, 28), actor=ACTOR
        )
    html = text(
        console_client(vendor_a, "analyst").get(f"/console/catalog/plans/{plan.pk}/subscribers/")
    )
    page = squash(html)
    assert "2 subscriptions." in page
    assert "Kiwi GmbH Acme IT Active 14 1 Feb 2026 —" in page
    assert "Rival Co Rival MSP Ended 28 Feb 2026 — 1 Jan 2026 28 Feb 2026" in page
    assert f'href="/console/clients/{world["client"].pk}/subscriptions/">Kiwi GmbH</a>' in html
    # The plan page counts current and upcoming subscriptions only.
    html = text(console_client(vendor_a, "analyst").get(f"/console/catalog/plans/{plan.pk}/"))
    assert "Subscribers (1)" in html


# ---- query counts ----------------------------------------------------------------------------


def _queries(client, url: str) -> int:
    client.get(url)  # warm: the host's routing is cached for a few seconds
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured)


def test_subscription_pages_cost_the_same_queries_whatever_the_number_of_subscriptions(
    vendor_a, world
):
    client, partner = world["client"], world["partner"]
    plan = world["plans"]["backup"]
    owner = portal_as(vendor_a, partner, "owner")
    finance = console_client(vendor_a, "finance")
    urls = [
        (owner, f"/portal/clients/{client.pk}/"),
        (finance, f"/console/clients/{client.pk}/subscriptions/"),
        (finance, f"/console/catalog/plans/{plan.pk}/subscribers/"),
    ]
    few = [_queries(user, url) for user, url in urls]
    with schema_context(vendor_a.schema):
        for start, end in [(D(2026, 2, 1), D(2026, 6, 30)), (D(2026, 7, 1), None)]:
            sub = subscription_create(
                client=client,
                price_plan=world["plans"]["edr"],
                quantity=2,
                started_on=start,
                ended_on=end,
                actor=ACTOR,
            )
            subscription_change_quantity(
                subscription=sub, quantity=9, effective_on=start + datetime.timedelta(days=3),
                actor=ACTOR,
            )  # fmt: skip
        for _ in range(3):
            other = ClientFactory(partner=partner, started_on=D(2026, 1, 1))
            subscription_create(
                client=other, price_plan=plan, quantity=4, started_on=D(2026, 1, 1), actor=ACTOR
            )
    many = [_queries(user, url) for user, url in urls]
    assert many == few
