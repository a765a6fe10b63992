"""The invoice invariants the database holds whatever code writes the rows (migration 0005 and
the model constraints): a finalized invoice keeps its figures and lines and is never deleted
(only its payment status moves on, never back to draft); an invoice's subtotal and discount
equal the sums of its lines (a deferred check, forced here with SET CONSTRAINTS ALL IMMEDIATE);
one invoice per partner, period and currency; a line's net is amount − discount."""

from __future__ import annotations

from decimal import Decimal

import psycopg
import pytest
from django.db import IntegrityError, connection, transaction
from django_tenants.utils import schema_context

from billing.models import Invoice, InvoiceLine
from tests.factories import ClientFactory, PartnerFactory, TierFactory

from .invoice_fixtures import make_invoice, run_deferred_checks

pytestmark = pytest.mark.django_db
D = Decimal


@pytest.fixture(autouse=True)
def _deferred_checks(vendor_a):
    yield
    run_deferred_checks(vendor_a)


@pytest.fixture
def world(vendor_a):
    with schema_context(vendor_a.schema):
        partner = PartnerFactory(tier=TierFactory(wholesale_discount_pct=D("10")))
        client = ClientFactory(partner=partner)
        finalized = make_invoice(
            partner=partner,
            month="2026-09",
            finalized=True,
            number="INV-000777",
            lines=[
                {"client": client, "amount": D("120.00")},
                {"client": client, "amount": D("30.00")},
            ],
        )
        draft = make_invoice(
            partner=partner,
            month="2026-10",
            lines=[{"client": client, "amount": D("50.00")}],
        )
        yield {"partner": partner, "client": client, "finalized": finalized, "draft": draft}


def rows(invoice: Invoice) -> tuple:
    return (
        Invoice.objects.filter(pk=invoice.pk).values().get(),
        list(InvoiceLine.objects.filter(invoice=invoice).order_by("pk").values()),
    )


def refused(fn, message: str) -> None:
    with pytest.raises(IntegrityError) as caught, transaction.atomic():
        fn()
    assert message in str(caught.value)


def check_now() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("SET CONSTRAINTS ALL DEFERRED")


@pytest.mark.parametrize(
    "changes",
    [
        {"total": D("1.00"), "subtotal": D("1.00"), "discount": D("0"), "tax": D("0")},
        {"tax_rate": D("0")},
        {"number": "INV-000778"},
        {"bill_to_name": "Someone else"},
        {"issued_on": None},
        {"status": "draft", "number": None},
    ],
)
def test_a_finalized_invoice_cannot_change(world, changes):
    invoice = world["finalized"]
    before = rows(invoice)
    refused(
        lambda: Invoice.objects.filter(pk=invoice.pk).update(**changes),
        "Invoice INV-000777 is finalized: only its payment status can change.",
    )
    assert rows(invoice) == before


def test_its_payment_status_moves_on(world):
    invoice = world["finalized"]
    for status in ("paid", "open", "uncollectible", "void"):
        Invoice.objects.filter(pk=invoice.pk).update(status=status)
        invoice.refresh_from_db()
        assert invoice.status == status


def test_a_finalized_invoice_cannot_be_deleted(world):
    invoice = world["finalized"]
    before = rows(invoice)
    with connection.cursor() as cursor:
        refused(
            lambda: cursor.execute("DELETE FROM billing_invoice WHERE id = %s", [invoice.pk]),
            "Invoice INV-000777 is finalized and cannot be deleted.",
        )
    # The ORM deletes the lines first: refused too.
    refused(lambda: invoice.delete(), "Invoice INV-000777 is finalized: its lines cannot change.")
    assert rows(invoice) == before


def test_the_lines_of_a_finalized_invoice_cannot_change(world):
    invoice, client = world["finalized"], world["client"]
    line = invoice.lines.order_by("position").first()
    before = rows(invoice)
    message = "Invoice INV-000777 is finalized: its lines cannot change."
    refused(lambda: InvoiceLine.objects.filter(pk=line.pk).update(description="Changed"), message)
    refused(lambda: InvoiceLine.objects.filter(pk=line.pk).delete(), message)

    def add_line():
        InvoiceLine.objects.create(
            invoice=invoice,
            position=3,
            client=client,
            charge=line.charge,
            seats=True,
            price_plan_code=line.price_plan_code,
            description="Extra",
            quantity=D("1"),
            unit_price=D("0"),
            amount=D("0"),
            discount=D("0"),
            net_amount=D("0"),
        )

    refused(add_line, message)
    assert rows(invoice) == before


def test_totals_must_match_the_lines(world):
    draft = world["draft"]
    line = draft.lines.get()
    before = rows(draft)

    def line_changes_alone():
        InvoiceLine.objects.filter(pk=line.pk).update(
            amount=D("60.00"), discount=D("6.00"), net_amount=D("54.00")
        )
        check_now()

    refused(line_changes_alone, "totals do not match its lines (subtotal 50.0000 vs lines 60.0000")

    def invoice_changes_alone():
        Invoice.objects.filter(pk=draft.pk).update(
            subtotal=D("60.00"), discount=D("6.00"), total=D("54.00") + draft.tax
        )
        check_now()

    refused(invoice_changes_alone, "totals do not match its lines")
    assert rows(draft) == before

    # Both together (as re-rating writes them) pass the check.
    with transaction.atomic():
        InvoiceLine.objects.filter(pk=line.pk).update(
            amount=D("60.00"), discount=D("6.00"), net_amount=D("54.00")
        )
        Invoice.objects.filter(pk=draft.pk).update(
            subtotal=D("60.00"), discount=D("6.00"), tax=D("10.26"), total=D("64.26")
        )
        check_now()
    draft.refresh_from_db()
    assert (draft.subtotal, draft.total) == (D("60.00"), D("64.26"))


def test_a_draft_can_be_replaced(world):
    draft = world["draft"]
    draft.delete()  # lines first, then the invoice: re-rating does this
    check_now()
    assert not Invoice.objects.filter(pk=draft.pk).exists()


def test_one_invoice_per_partner_period_and_currency(world):
    draft = world["draft"]
    refused(
        lambda: make_invoice(partner=world["partner"], month="2026-10", lines=[]),
        "billing_invoice_one_per_partner_period_currency",
    )
    # Another currency is another invoice.
    other = make_invoice(partner=world["partner"], month="2026-10", lines=[], currency="USD")
    assert (other.period_id, other.total) == (draft.period_id, D("0.00"))


def test_line_and_invoice_arithmetic_checks(world):
    draft = world["draft"]
    line = draft.lines.get()
    refused(
        lambda: InvoiceLine.objects.filter(pk=line.pk).update(net_amount=D("1.00")),
        "billing_invoice_line_net_adds_up",
    )
    refused(
        lambda: Invoice.objects.filter(pk=draft.pk).update(total=D("1.00")),
        "billing_invoice_total_adds_up",
    )


def test_lines_must_refer_to_an_existing_invoice_and_client(world):
    """Checked per statement by triggers (migration 0011), for COPY as for INSERT and UPDATE."""
    draft = world["draft"]
    before = rows(draft)
    line = InvoiceLine.objects.filter(invoice=draft).values().get()
    columns = [c for c in line if c != "id"]
    copied = [{**line, "position": 2, "client_id": 10**9}, {**line, "position": 3}]
    for bad, message in (
        ({"client_id": 10**9}, f"refers to client {10**9}, which does not exist"),
        ({"invoice_id": 10**9}, f"refers to invoice {10**9}, which does not exist"),
    ):
        refused(lambda bad=bad: InvoiceLine.objects.filter(invoice=draft).update(**bad), message)

    def copy_in() -> None:
        with (
            connection.cursor() as cursor,
            cursor.cursor.copy(
                f"COPY billing_invoiceline ({', '.join(columns)}) FROM STDIN"
            ) as copy,
        ):
            for row in copied:
                copy.write_row([row[c] if c != "tiers" else "[]" for c in columns])

    # Rating writes lines with COPY through the raw psycopg cursor: psycopg's own error class.
    with pytest.raises(psycopg.errors.ForeignKeyViolation) as caught, transaction.atomic():
        copy_in()
    assert f"refers to client {10**9}, which does not exist" in str(caught.value)
    assert rows(draft) == before


def test_an_invoice_or_client_that_lines_refer_to_cannot_be_deleted(world):
    draft, client = world["draft"], world["client"]
    before = rows(draft)
    refused(
        lambda: Invoice.objects.filter(pk=draft.pk)._raw_delete(connection.alias),
        "still has lines",
    )
    refused(
        lambda: type(client).objects.filter(pk=client.pk)._raw_delete(connection.alias),
        "is billed on invoice lines and cannot be deleted",
    )
    assert rows(draft) == before
    # Lines first, then the invoice: what re-rating does.
    InvoiceLine.objects.filter(invoice=draft).delete()
    Invoice.objects.filter(pk=draft.pk).delete()
    assert not Invoice.objects.filter(pk=draft.pk).exists()
