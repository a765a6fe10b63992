"""Re-rating writes only what moved: lines of an existing draft are merged by position (kept,
updated in place, deleted past the end, inserted), and the result is exactly the rows a first
close of the same data writes."""

from __future__ import annotations

import pytest
from django_tenants.utils import tenant_context

from billing.models import BillingPeriod, Invoice, InvoiceLine, RatingChunk
from billing.models_invoicing import PeriodStatus
from partners.enums import ClientStatus
from tests.billing.closing_support import (
    D,
    at,
    build_world,
    close,
    event,
    invoice_rows,
    october_usage,
    report,
)

pytestmark = pytest.mark.django_db

NOV_1 = at(2026, 11, 1, 0, 30)


@pytest.fixture
def world(vendor_a):
    with tenant_context(vendor_a.vendor):
        world = build_world()
        october_usage(world)
        yield world


def _first_close_rows(period: BillingPeriod) -> list[tuple]:
    """The rows a first close writes for the same data: drafts gone, the period open again."""
    InvoiceLine.objects.filter(invoice__period=period).delete()
    Invoice.objects.filter(period=period).delete()
    RatingChunk.objects.filter(period=period).delete()
    BillingPeriod.objects.filter(pk=period.pk).update(status=PeriodStatus.OPEN, run=None)
    return invoice_rows(close(period.month, NOV_1))


def _line_ids() -> dict[tuple, int]:
    return {
        (client, charge): pk
        for pk, client, charge in InvoiceLine.objects.values_list("pk", "client_id", "charge_id")
    }


def test_rerating_unchanged_keeps_every_line_row(world):
    close(D(2026, 10, 1), NOV_1)
    before = _line_ids()
    assert len(before) == 5
    close(D(2026, 10, 1), NOV_1)
    assert _line_ids() == before  # nothing moved: no line deleted, inserted or renumbered


def test_rerating_with_more_and_fewer_lines_equals_a_first_close(world):
    period = close(D(2026, 10, 1), NOV_1)
    assert InvoiceLine.objects.filter(invoice__period=period).count() == 5
    # Beta reports a device (a new line in the middle: every later position moves) …
    report(world, event("late-d", "beta", "devices", "1", "2026-10-20T00:00:00Z", device_id="x"))
    period = close(D(2026, 10, 1), NOV_1)
    grown = invoice_rows(period)
    assert len(grown[0][-1]) == 6
    assert grown == _first_close_rows(period)
    # … then Alpha goes on trial: its three lines go, Beta's move up, the last positions are
    # deleted and the pooled storage is all Beta's.
    world["alpha"].status = ClientStatus.TRIAL
    world["alpha"].save(update_fields=["status"])
    period = close(D(2026, 10, 1), NOV_1)
    shrunk = invoice_rows(period)
    assert [line[1] for line in shrunk[0][-1]] == [world["beta"].pk] * 3
    assert [line[0] for line in shrunk[0][-1]] == [1, 2, 3]
    assert shrunk == _first_close_rows(period)


def test_a_partner_with_nothing_left_to_bill_loses_its_draft(world):
    close(D(2026, 10, 1), NOV_1)
    for name in ("alpha", "beta"):
        world[name].status = ClientStatus.NFR
        world[name].save(update_fields=["status"])
    period = close(D(2026, 10, 1), NOV_1)
    assert not Invoice.objects.filter(period=period).exists()
    assert not InvoiceLine.objects.exists()
