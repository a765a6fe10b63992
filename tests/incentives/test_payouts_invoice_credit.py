"""Invoice-credit payouts: applied payouts become credit lines on the partner's next finalized
invoice (billing.closing.credits), capped at its total, paid in finalize's transaction; the part
that does not fit returns to the balance. The database keeps the invoice invariants."""

from __future__ import annotations

import datetime

import pytest
from django.db import IntegrityError, transaction
from django_tenants.utils import schema_context

from billing.models import BillingPeriod, Invoice, InvoiceCredit
from billing.services.periods import period_finalize
from core.actors import Actor
from incentives.models import EntryKind, LedgerEntry, Payout, PayoutStatus, StatementStatus
from incentives.services.payouts import payout_execute
from incentives.services.statements import statement_approve
from tests.billing.invoice_fixtures import make_invoice, run_deferred_checks
from tests.factories import ClientFactory, PartnerFactory

from .statement_support import D, check_ledger, month, post, statement_of

pytestmark = pytest.mark.django_db

FINANCE = Actor.system("finance@vendor.example")


def _applied_payout(partner, amount):
    post(partner, "2026-10", amount)
    statement_approve(statement_id=statement_of(partner, "2026-10").pk, actor=FINANCE)
    payout = Payout.objects.get(partner=partner)
    payout_execute(payout_id=payout.pk)
    payout.refresh_from_db()
    assert payout.status == PayoutStatus.APPLIED
    return payout


def _november_invoice(partner, amount="200.00"):
    client = ClientFactory(partner=partner)
    # 200.00 + 19 % tax = 238.00
    invoice = make_invoice(
        partner=partner, month="2026-11", lines=[{"client": client, "amount": D(amount)}]
    )
    # As a close leaves it (finalize settles late usage seen before the rating began).
    BillingPeriod.objects.filter(pk=invoice.period_id).update(
        run_started_at=datetime.datetime(2026, 12, 1, 1, tzinfo=datetime.UTC)
    )
    return invoice


def test_the_payout_is_credited_on_the_next_invoice(vendor_a):
    with schema_context(vendor_a.schema):
        partner = PartnerFactory(tax_rate=D("19.00"))
        other = PartnerFactory(tax_rate=D("19.00"))
        payout = _applied_payout(partner, "100.00")
        invoice = _november_invoice(partner)
        untouched = _november_invoice(other)
        period_finalize(month=month("2026-11"), actor=FINANCE)
        run_deferred_checks(vendor_a)

        invoice.refresh_from_db()
        assert (invoice.subtotal, invoice.tax, invoice.credits, invoice.total) == (
            D("200.00"),
            D("38.00"),
            D("100.00"),
            D("138.00"),
        )
        credit = InvoiceCredit.objects.get(invoice=invoice)
        assert (credit.amount, credit.reference) == (D("100.00"), f"payout:{payout.pk}")
        assert credit.description == "Commission payout — October 2026 statement"
        payout.refresh_from_db()
        assert (payout.status, payout.credited_invoice_id, payout.amount) == (
            PayoutStatus.PAID,
            invoice.pk,
            D("100.00"),
        )
        assert payout.statement.status == StatementStatus.PAID
        untouched.refresh_from_db()
        assert (untouched.credits, untouched.total) == (D("0"), D("238.00"))
        check_ledger(partner)


def test_a_payout_larger_than_the_invoice_is_split(vendor_a):
    with schema_context(vendor_a.schema):
        partner = PartnerFactory(tax_rate=D("19.00"))
        payout = _applied_payout(partner, "300.00")
        invoice = _november_invoice(partner)
        period_finalize(month=month("2026-11"), actor=FINANCE)
        run_deferred_checks(vendor_a)
        invoice.refresh_from_db()
        assert (invoice.credits, invoice.total) == (D("238.00"), D("0.00"))
        payout.refresh_from_db()
        assert (payout.status, payout.amount) == (PayoutStatus.PAID, D("238.00"))
        remainder = LedgerEntry.objects.get(kind=EntryKind.PAYOUT_REVERSAL)
        assert remainder.amount == D("62.00")
        assert statement_of(partner, "2026-11").payable == D("62.00")
        check_ledger(partner)


def test_without_an_invoice_the_payout_keeps_waiting(vendor_a):
    with schema_context(vendor_a.schema):
        partner, other = PartnerFactory(), PartnerFactory()
        payout = _applied_payout(partner, "50.00")
        _november_invoice(other)
        period_finalize(month=month("2026-11"), actor=FINANCE)
        payout.refresh_from_db()
        assert payout.status == PayoutStatus.APPLIED


def test_a_finalized_invoice_keeps_its_credits(vendor_a):
    with schema_context(vendor_a.schema):
        partner = PartnerFactory(tax_rate=D("19.00"))
        _applied_payout(partner, "100.00")
        invoice = _november_invoice(partner)
        period_finalize(month=month("2026-11"), actor=FINANCE)
        run_deferred_checks(vendor_a)
        with pytest.raises(IntegrityError), transaction.atomic():
            Invoice.objects.filter(pk=invoice.pk).update(credits=D("90.00"), total=D("148.00"))
        with pytest.raises(IntegrityError), transaction.atomic():
            InvoiceCredit.objects.filter(invoice=invoice).delete()
        with pytest.raises(IntegrityError), transaction.atomic():
            Invoice.objects.filter(pk=invoice.pk).update(credits=D("90.00"))  # total adds up


def test_credits_must_match_their_lines(vendor_a):
    with schema_context(vendor_a.schema):
        partner = PartnerFactory(tax_rate=D("19.00"))
        invoice = _november_invoice(partner)
        with pytest.raises(IntegrityError), transaction.atomic():
            Invoice.objects.filter(pk=invoice.pk).update(credits=D("10.00"), total=D("228.00"))
            run_deferred_checks(vendor_a)


def test_credits_show_on_the_invoice_page_pdf_and_api(vendor_a):
    import io

    from pypdf import PdfReader

    from accounts.enums import VendorRole
    from tests.conftest import host_client, make_api_key
    from tests.partners.program_fixtures import console_client

    with schema_context(vendor_a.schema):
        partner = PartnerFactory(tax_rate=D("19.00"))
        _applied_payout(partner, "100.00")
        invoice = _november_invoice(partner)
        period_finalize(month=month("2026-11"), actor=FINANCE)
    client = console_client(vendor_a, VendorRole.ANALYST)
    html = client.get(f"/console/invoices/{invoice.pk}/").content.decode()
    assert "Commission payout — October 2026 statement" in html
    assert "−€100.00" in html and "€138.00" in html
    pdf = client.get(f"/console/invoices/{invoice.pk}/pdf/").content
    text = " ".join(PdfReader(io.BytesIO(pdf)).pages[0].extract_text().split())
    assert "Commission payout — October 2026 statement -€100.00 Total EUR €138.00" in text
    api = host_client(vendor_a.host, HTTP_AUTHORIZATION=f"Bearer {make_api_key(vendor_a)}")
    data = api.get(f"/api/v1/invoices/{invoice.pk}/").json()
    assert (data["credits"], data["total"]) == ("100.00", "138.00")
