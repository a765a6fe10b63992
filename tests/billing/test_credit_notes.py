"""billing.services.credit_notes.credit_note_create: finalized invoices only, lines or a whole
amount, never more than what is left (per line and for the invoice, before and after tax), tax
rounded per credit note and capped by the tax left, gapless numbers, an audit row, nothing
written on refusal — and under concurrency two credits of the remainder leave exactly one."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from django.db import connection, connections, transaction
from django.db.models import Max
from django_tenants.utils import schema_context

from billing.errors import BillingError
from billing.models import (
    BillingPeriod,
    CreditNote,
    CreditNoteLine,
    DocumentSequence,
    Invoice,
    InvoiceLine,
    PricePlan,
)
from billing.services.credit_notes import credit_left, credit_note_create
from core.actors import Actor
from core.models import AuditEntry
from partners.models import Client, Partner
from tests.committed import committed as on_own_connection
from tests.factories import ClientFactory, PartnerFactory, TierFactory

from .invoice_fixtures import make_invoice, run_deferred_checks

pytestmark = pytest.mark.django_db

ACTOR = Actor.system("credit note tests")
D = Decimal


@pytest.fixture(autouse=True)
def _deferred_checks(vendor_a):
    yield
    run_deferred_checks(vendor_a)


@pytest.fixture
def schema(vendor_a):
    with schema_context(vendor_a.schema):
        yield vendor_a


@pytest.fixture
def invoice(schema) -> Invoice:
    """Gold (10 % discount), 19 % tax: 120.00 → net 108.00 and 33.35 → net 30.01; net 138.01,
    tax 26.22, total 164.23."""
    partner = PartnerFactory(
        name="Alpha IT", tier=TierFactory(wholesale_discount_pct=D("10")), tax_rate=D("19")
    )
    client = ClientFactory(partner=partner, name="Kiwi GmbH")
    return make_invoice(
        partner=partner,
        month="2026-09",
        finalized=True,
        number="INV-000501",
        lines=[
            {"client": client, "amount": D("120.00"), "quantity": D("40")},
            {"client": client, "amount": D("33.35"), "quantity": D("667")},
        ],
    )


def lines_of(invoice: Invoice) -> list[InvoiceLine]:
    return list(invoice.lines.order_by("position"))


def written() -> tuple:
    return (
        list(CreditNote.objects.order_by("pk").values()),
        list(CreditNoteLine.objects.order_by("pk").values()),
        AuditEntry.objects.count(),
    )


def refused(message: str, field: str, **kwargs) -> None:
    before = written()
    with pytest.raises(BillingError) as caught:
        credit_note_create(actor=ACTOR, **kwargs)
    assert (str(caught.value), caught.value.field) == (message, field)
    assert written() == before


def test_credits_lines_with_rounded_tax_and_an_audit_row(invoice):
    kiwi, lime = lines_of(invoice)
    note = credit_note_create(
        invoice=invoice,
        reason="  Outage on 12 September ",
        lines=[
            {"invoice_line": kiwi.pk, "amount": D("10.00")},
            {"invoice_line": lime, "amount": D("0.05"), "description": "Lime backups"},
        ],
        actor=ACTOR,
    )
    note.refresh_from_db()
    # tax = round(10.05 × 19 %) = round(1.9095) = 1.91
    assert (note.reason, note.currency, note.subtotal, note.tax, note.total) == (
        "Outage on 12 September",
        "EUR",
        D("10.05"),
        D("1.91"),
        D("11.96"),
    )
    assert list(note.lines.order_by("id").values_list("invoice_line", "description", "amount")) == [
        (kiwi.pk, f"Credit: {kiwi.description}", D("10.00")),
        (lime.pk, "Lime backups", D("0.05")),
    ]
    assert note.created_by_label == "credit note tests"
    entry = AuditEntry.objects.get(action="credit_note.created", object_id=str(note.pk))
    assert entry.after["total"] == "11.96"
    assert entry.after["lines"] == [
        {"invoice_line": kiwi.pk, "description": f"Credit: {kiwi.description}", "amount": "10.00"},
        {"invoice_line": lime.pk, "description": "Lime backups", "amount": "0.05"},
    ]
    left = credit_left(invoice)
    assert (left.net, left.tax, left.total) == (D("127.96"), D("24.31"), D("152.27"))


def test_numbers_are_gapless_and_consecutive(invoice):
    first = credit_note_create(invoice=invoice, reason="a", amount=D("1.00"), actor=ACTOR)
    second = credit_note_create(invoice=invoice, reason="b", amount=D("1.00"), actor=ACTOR)
    assert first.number.startswith("CN-") and len(first.number) == 9
    assert int(second.number[3:]) == int(first.number[3:]) + 1
    assert DocumentSequence.objects.get(name="credit_note").last == int(second.number[3:])


def test_a_line_can_be_credited_up_to_what_is_left_of_it(invoice):
    kiwi, _ = lines_of(invoice)
    credit_note_create(
        invoice=invoice,
        reason="a",
        lines=[{"invoice_line": kiwi.pk, "amount": D("100.00")}],
        actor=ACTOR,
    )
    refused(
        f"At most €8.00 is left to credit on line 1 ({kiwi.description}): its net amount is "
        "€108.00 and €100.00 was already credited.",
        "lines[0].amount",
        invoice=invoice,
        reason="b",
        lines=[{"invoice_line": kiwi.pk, "amount": D("8.01")}],
    )
    credit_note_create(
        invoice=invoice,
        reason="c",
        lines=[{"invoice_line": kiwi.pk, "amount": D("8.00")}],
        actor=ACTOR,
    )
    refused(
        f"Nothing is left to credit on line 1 ({kiwi.description}).",
        "lines[0].amount",
        invoice=invoice,
        reason="d",
        lines=[{"invoice_line": kiwi.pk, "amount": D("0.01")}],
    )


def test_crediting_in_full_in_steps_returns_exactly_the_total(invoice):
    credit_note_create(invoice=invoice, reason="a", amount=D("100.00"), actor=ACTOR)
    refused(
        "At most €38.01 before tax is left to credit on invoice INV-000501 (this credit is "
        "€38.02).",
        "amount",
        invoice=invoice,
        reason="b",
        amount=D("38.02"),
    )
    last = credit_note_create(invoice=invoice, reason="c", amount=D("38.01"), actor=ACTOR)
    # round(38.01 × 19 %) would be 7.22 too; the last credit takes what is left of the tax.
    assert (last.subtotal, last.tax, last.total) == (D("38.01"), D("7.22"), D("45.23"))
    totals = CreditNote.objects.filter(invoice=invoice).values_list("total", flat=True)
    assert sum(totals) == invoice.total == D("164.23")
    refused(
        "Invoice INV-000501 has been credited in full: nothing is left to credit.",
        "amount",
        invoice=invoice,
        reason="d",
        amount=D("0.01"),
    )


def test_tax_of_small_credits_is_capped_by_the_tax_left(schema):
    partner = PartnerFactory(tax_rate=D("50"))
    client = ClientFactory(partner=partner)
    invoice = make_invoice(
        partner=partner,
        month="2026-09",
        finalized=True,
        number="INV-000502",
        lines=[{"client": client, "amount": D("0.06")}],
    )
    # net 0.06, tax round(0.03) = 0.03, total 0.09
    taxes = [
        credit_note_create(invoice=invoice, reason=str(n), amount=D("0.01"), actor=ACTOR).tax
        for n in range(6)
    ]
    # round(0.005) = 0.01 three times uses up the tax; then 0.00 (capped), and the last one
    # (clearing the net) takes what is left: nothing.
    assert taxes == [D("0.01")] * 3 + [D("0.00")] * 3
    assert sum(CreditNote.objects.filter(invoice=invoice).values_list("total", flat=True)) == D(
        "0.09"
    )


def test_paid_invoices_can_be_credited_drafts_and_void_ones_cannot(schema, invoice):
    Invoice.objects.filter(pk=invoice.pk).update(status="paid")
    invoice.refresh_from_db()
    assert credit_note_create(invoice=invoice, reason="a", amount=D("1.00"), actor=ACTOR).pk
    draft = make_invoice(
        partner=invoice.partner,
        month="2026-10",
        lines=[{"client": lines_of(invoice)[0].client, "amount": D("5.00")}],
    )
    refused(
        "This invoice is still a draft: correct it by re-rating the period before it is "
        "finalized; credit notes are for finalized invoices.",
        "invoice",
        invoice=draft,
        reason="a",
        amount=D("1.00"),
    )
    for status in ("void", "uncollectible"):
        Invoice.objects.filter(pk=invoice.pk).update(status=status)
        invoice.refresh_from_db()
        refused(
            f"Invoice INV-000501 is {status}: only open or paid invoices can be credited.",
            "invoice",
            invoice=invoice,
            reason="a",
            amount=D("1.00"),
        )


@pytest.mark.parametrize(
    ("kwargs", "message", "field"),
    [
        ({"reason": " ", "amount": D("1")}, "Say why the invoice is credited.", "reason"),
        (
            {"reason": "x", "amount": D("1"), "lines": []},
            "Credit either chosen lines (lines) or an amount of the whole invoice (amount).",
            "lines",
        ),
        (
            {"reason": "x"},
            "Credit either chosen lines (lines) or an amount of the whole invoice (amount).",
            "amount",
        ),
        ({"reason": "x", "amount": D("0")}, "A credited amount must be more than zero.", "amount"),
        (
            {"reason": "x", "amount": D("-1.00")},
            "A credited amount must be more than zero.",
            "amount",
        ),
        (
            {"reason": "x", "amount": D("1.001")},
            "EUR amounts have at most 2 decimal places.",
            "amount",
        ),
        (
            {"reason": "x", "amount": 1.5},
            'Give the amount as a decimal string, e.g. "12.50".',
            "amount",
        ),
        ({"reason": "x", "lines": []}, "Choose at least one line to credit.", "lines"),
        (
            {"reason": "x", "lines": [{"invoice_line": 0, "amount": D("1")}]},
            "Invoice INV-000501 has no line 0.",
            "lines[0].invoice_line",
        ),
        (
            {"reason": "x" * 501, "amount": D("1")},
            "At most 500 characters.",
            "reason",
        ),
    ],
)
def test_bad_input_is_refused_before_anything_is_written(invoice, kwargs, message, field):
    refused(message, field, invoice=invoice, **kwargs)


def test_the_same_line_twice_and_another_invoices_line_are_refused(invoice):
    kiwi, _ = lines_of(invoice)
    refused(
        "Each invoice line can be credited once per credit note.",
        "lines[1].invoice_line",
        invoice=invoice,
        reason="x",
        lines=[
            {"invoice_line": kiwi.pk, "amount": D("1.00")},
            {"invoice_line": kiwi.pk, "amount": D("1.00")},
        ],
    )
    other = make_invoice(
        partner=invoice.partner,
        month="2026-08",
        finalized=True,
        number="INV-000499",
        lines=[{"client": kiwi.client, "amount": D("5.00")}],
    )
    foreign = lines_of(other)[0]
    refused(
        f"Invoice INV-000501 has no line {foreign.pk}.",
        "lines[0].invoice_line",
        invoice=invoice,
        reason="x",
        lines=[{"invoice_line": foreign.pk, "amount": D("1.00")}],
    )


# --- concurrency -------------------------------------------------------------------------------


@pytest.fixture
def committed_invoice(vendor_a):
    """A finalized invoice committed for real (other connections must see it), removed again
    afterwards: a finalized invoice can only be deleted with the table's triggers off, and the
    numbering sequences are put back where they were."""
    schema = vendor_a.schema

    def make():
        with schema_context(schema):
            marks = {
                "audit": AuditEntry.objects.aggregate(m=Max("id"))["m"] or 0,
                "sequences": dict(DocumentSequence.objects.values_list("name", "last")),
                "periods": set(BillingPeriod.objects.values_list("pk", flat=True)),
                "plans": set(PricePlan.objects.values_list("pk", flat=True)),
            }
            partner = PartnerFactory(name="Race IT", tax_rate=D("19"))
            client = ClientFactory(partner=partner, name="Race client")
            invoice = make_invoice(
                partner=partner,
                month="2031-01",
                finalized=True,
                number="INV-RACE-1",
                lines=[{"client": client, "amount": D("100.00")}],
            )
            return marks, partner, client, invoice

    marks, partner, client, invoice = on_own_connection(make)
    yield schema, invoice

    def clean():
        with schema_context(schema), transaction.atomic(), connection.cursor() as cursor:
            CreditNoteLine.objects.filter(credit_note__invoice=invoice).delete()
            CreditNote.objects.filter(invoice=invoice).delete()
            cursor.execute("ALTER TABLE billing_invoice DISABLE TRIGGER USER")
            cursor.execute("ALTER TABLE billing_invoiceline DISABLE TRIGGER USER")
            InvoiceLine.objects.filter(invoice=invoice).delete()
            Invoice.objects.filter(pk=invoice.pk).delete()
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute("ALTER TABLE billing_invoice ENABLE TRIGGER USER")
            cursor.execute("ALTER TABLE billing_invoiceline ENABLE TRIGGER USER")
            BillingPeriod.objects.exclude(pk__in=marks["periods"]).delete()
            PricePlan.objects.exclude(pk__in=marks["plans"]).delete()
            Client.objects.filter(pk=client.pk).delete()
            Partner.objects.filter(pk=partner.pk).delete()
            track = partner.track
            track.delete()
            track.program.delete()
            for name, last in marks["sequences"].items():
                DocumentSequence.objects.filter(name=name).update(last=last)
            DocumentSequence.objects.exclude(name__in=marks["sequences"]).delete()
            AuditEntry.objects.filter(id__gt=marks["audit"]).delete()

    on_own_connection(clean)


def test_two_credits_of_the_remainder_at_once_leave_exactly_one(committed_invoice):
    schema, invoice = committed_invoice
    threads_count = 2
    barrier = threading.Barrier(threads_count)
    outcomes: list = [None] * threads_count

    def worker(n: int) -> None:
        try:
            with schema_context(schema):
                barrier.wait()
                outcomes[n] = credit_note_create(
                    invoice=invoice, reason=f"race {n}", amount=D("100.00"), actor=ACTOR
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
    created = [o for o in outcomes if isinstance(o, CreditNote)]
    refused_ = [o for o in outcomes if isinstance(o, BillingError)]
    assert (len(created), len(refused_)) == (1, 1), outcomes
    assert str(refused_[0]) == (
        "Invoice INV-RACE-1 has been credited in full: nothing is left to credit."
    )

    def stored():
        with schema_context(schema):
            return list(CreditNote.objects.filter(invoice=invoice).values_list("number", "total"))

    assert on_own_connection(stored) == [(created[0].number, D("119.0000"))]
