"""The running estimate of a partner's current-month invoice: the close's own rating over the
month so far, shown on the portal's invoice list and the console's (filtered to the partner)."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django_tenants.utils import schema_context

from billing.closing.estimate import estimate_for_client, estimate_for_partner
from billing.models import Invoice, InvoiceLine
from tests.billing.closing_support import build_world, october_usage
from tests.billing.invoice_fixtures import run_deferred_checks
from tests.partners.program_fixtures import console_client, portal_client

pytestmark = pytest.mark.django_db

TODAY = datetime.date(2026, 11, 25)


@pytest.fixture
def world(vendor_a, monkeypatch):
    monkeypatch.setattr("billing.views.estimates.vendor_today", lambda: TODAY)
    with schema_context(vendor_a.schema):
        world = build_world()
        october_usage(world)  # includes Beta's 1,000 GB at midnight of 1 November
    world["tv"] = vendor_a
    return world


def test_the_estimate_rates_the_month_so_far_without_writing(world):
    with schema_context(world["tv"].schema):
        (invoice,) = estimate_for_partner(world["partner"], today=TODAY)
        # Alpha 20 seats × 3.00, Beta 5 × 3.00, Beta's 1,000 GB pooled: 100 × 0.10 + 900 × 0.05.
        assert [(ln.description, ln.amount) for ln in invoice.lines] == [
            ("Backup: seats (daily average)", Decimal("60.00")),
            ("Backup: seats (daily average)", Decimal("15.00")),
            ("Backup: Backup storage (GB)", Decimal("55.00")),
        ]
        assert (invoice.subtotal, invoice.discount, invoice.tax, invoice.total) == (
            Decimal("130.00"),
            Decimal("13.00"),
            Decimal("22.23"),
            Decimal("139.23"),
        )
        beta = estimate_for_client(world["beta"], today=TODAY)
        assert (beta.amount, beta.discount, beta.net) == (
            Decimal("70.00"),
            Decimal("7.00"),
            Decimal("63.00"),
        )
        assert estimate_for_client(world["cedar"], today=TODAY) is None  # trial: not billed
        assert not Invoice.objects.exists() and not InvoiceLine.objects.exists()


def test_the_portal_invoice_list_shows_the_partners_estimate(world):
    html = portal_client(world["tv"], world["partner"], "viewer").get("/portal/invoices/")
    html = html.content.decode()
    assert "November 2026 so far (estimate)" in html
    assert "<strong data-estimate-total>€139.23</strong>" in html


def test_the_console_shows_the_estimate_when_filtered_to_one_partner(world):
    client = console_client(world["tv"], "analyst")
    assert "so far (estimate)" not in client.get("/console/invoices/").content.decode()
    html = client.get(f"/console/invoices/?partner={world['partner'].pk}").content.decode()
    assert "<strong data-estimate-total>€139.23</strong>" in html
    run_deferred_checks(world["tv"])
