"""The no-overlap rule holds under concurrency: several threads (each its own connection)
subscribing one client to one plan at once leave exactly one subscription.

pytest-django's transactional_db would flush the session's committed tenants, so the rows the
threads need are committed from a thread of their own and removed again afterwards (as in
tests/billing/test_usage_ingest.py)."""

from __future__ import annotations

import datetime
import threading

import pytest
from django.db import connections
from django.db.models import Max
from django_tenants.utils import schema_context

from billing.errors import BillingError
from billing.models import PricePlan, Subscription
from billing.services.catalog import price_plan_create
from billing.services.subscriptions import subscription_create
from core.actors import Actor
from core.models import AuditEntry
from partners.models import Client, Partner
from tests.committed import committed as on_own_connection
from tests.factories import ClientFactory, PartnerFactory

pytestmark = pytest.mark.django_db

ACTOR = Actor.system("subscription race")
D = datetime.date


@pytest.fixture
def committed(vendor_a):
    schema = vendor_a.schema

    def make():
        with schema_context(schema):
            audit_max = AuditEntry.objects.aggregate(m=Max("id"))["m"] or 0
            partner = PartnerFactory(name="Race IT", external_id="P-SUB-RACE", currency="EUR")
            client = ClientFactory(partner=partner, external_id="SUB-RACE-1")
            plan = price_plan_create(
                code="race-seats",
                name="Race seats",
                currency="EUR",
                effective_from=D(2026, 1, 1),
                charges=[
                    {"seats": True, "model": "per_unit", "unit_price": "1", "counting_rule": "peak"}
                ],
                actor=ACTOR,
            )
            return audit_max, partner, client, plan

    audit_max, partner, client, plan = on_own_connection(make)
    yield schema, client, plan

    def clean():
        with schema_context(schema):
            Subscription.objects.filter(client=client).delete()
            PricePlan.objects.filter(pk=plan.pk).delete()
            Client.objects.filter(pk=client.pk).delete()
            Partner.objects.filter(pk=partner.pk).delete()
            track = partner.track
            track.delete()
            track.program.delete()
            AuditEntry.objects.filter(id__gt=audit_max).delete()

    on_own_connection(clean)


def test_concurrent_overlapping_subscriptions_leave_exactly_one(committed):
    schema, client, plan = committed
    threads_count = 6
    barrier = threading.Barrier(threads_count)
    outcomes: list = [None] * threads_count

    def worker(n: int) -> None:
        try:
            with schema_context(schema):
                barrier.wait()
                # Every start overlaps every other (all open-ended).
                outcomes[n] = subscription_create(
                    client=client,
                    price_plan=plan,
                    quantity=n,
                    started_on=D(2026, 3, 1 + n),
                    actor=ACTOR,
                )
        except BaseException as exc:
            outcomes[n] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    created = [o for o in outcomes if isinstance(o, Subscription)]
    refused = [o for o in outcomes if isinstance(o, BillingError)]
    assert (len(created), len(refused)) == (1, threads_count - 1), outcomes
    assert all(error.field == "started_on" for error in refused)

    def stored():
        with schema_context(schema):
            return list(Subscription.objects.filter(client=client).values_list("pk", flat=True))

    assert on_own_connection(stored) == [created[0].pk]
