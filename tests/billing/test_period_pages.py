"""The console's month-end close page: states, live progress (htmx polling while rating),
close / re-rate / finalize for finance and admins, 403 and nothing changed for the others."""

from __future__ import annotations

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import schema_context

from billing.models import BillingPeriod, Invoice
from billing.services.periods import period_get_or_create
from tests.billing.closing_support import build_world, october_usage, run_chunks
from tests.partners.program_fixtures import console_client, portal_client

pytestmark = pytest.mark.django_db

PAGE = "/console/billing/periods/"


@pytest.fixture
def world(vendor_a):
    with schema_context(vendor_a.schema):
        world = build_world()
        october_usage(world)
    world["tv"] = vendor_a
    return world


def periods(world) -> list[tuple]:
    with schema_context(world["tv"].schema):
        return list(BillingPeriod.objects.order_by("month").values_list("month", "status"))


def test_finance_closes_follows_progress_reviews_and_finalizes(
    world, django_capture_on_commit_callbacks
):
    finance = console_client(world["tv"], "finance")
    html = finance.get(PAGE).content.decode()
    assert "Month-end close" in html
    with django_capture_on_commit_callbacks(execute=False):
        response = finance.post(f"{PAGE}2026-10/close/", follow=True)
    html = response.content.decode()
    assert "Rating October 2026 has started" in html
    # While rating, the table polls itself every second and shows a progress bar.
    assert 'hx-trigger="every 1s"' in html
    assert 'id="close-progress-2026-10"' in html
    partial = finance.get(PAGE, HTTP_HX_REQUEST="true").content.decode()
    # Only the table block, not the whole page: htmx swaps it in place.
    assert partial.lstrip().startswith('<section id="billing-periods"')
    assert "<html" not in partial
    assert 'value="0"' in partial
    with schema_context(world["tv"].schema):
        run_chunks(BillingPeriod.objects.get(month="2026-10-01"))
    partial = finance.get(PAGE, HTTP_HX_REQUEST="true").content.decode()
    assert "every 1s" not in partial  # polling stops once nothing is rating
    assert "In review" in partial
    assert "1 invoice" in partial and "€79.81" in partial
    assert "Re-rate" in partial and "Finalize October 2026" in partial

    html = finance.post(f"{PAGE}2026-10/finalize/", follow=True).content.decode()
    assert "October 2026 is finalized" in html
    with schema_context(world["tv"].schema):
        assert list(Invoice.objects.values_list("number", flat=True)) == ["INV-000001"]
    # Refusals are readable messages, not errors.
    html = finance.post(f"{PAGE}2026-10/finalize/", follow=True).content.decode()
    assert "only a period in review can be finalized" in html


@pytest.mark.parametrize("role", ["analyst", "support", "channel_manager"])
def test_other_roles_read_but_cannot_close_or_finalize(world, role):
    client = console_client(world["tv"], role)
    html = client.get(PAGE).content.decode()
    assert "Billing periods" in html
    assert "/close/" not in html
    before = periods(world)
    assert client.post(f"{PAGE}2026-10/close/").status_code == 403
    assert client.post(f"{PAGE}2026-10/finalize/").status_code == 403
    assert periods(world) == before


def test_partner_users_get_403(world):
    client = portal_client(world["tv"], world["partner"])
    assert client.get(PAGE).status_code == 403
    assert client.post(f"{PAGE}2026-10/close/").status_code == 403
    assert periods(world) == []


def test_the_page_reads_in_a_constant_number_of_queries(world):
    admin = console_client(world["tv"], "admin")
    with schema_context(world["tv"].schema):
        for month in ("2026-06-01", "2026-07-01"):
            period_get_or_create(datetime.date.fromisoformat(month))
    admin.get(PAGE)
    with CaptureQueriesContext(connection) as few:
        admin.get(PAGE)
    with schema_context(world["tv"].schema):
        for month in ("2026-01-01", "2026-02-01", "2026-03-01", "2026-04-01"):
            period_get_or_create(datetime.date.fromisoformat(month))
    with CaptureQueriesContext(connection) as many:
        admin.get(PAGE)
    assert len(many.captured_queries) == len(few.captured_queries)
