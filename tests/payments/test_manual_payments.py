"""Payments recorded by hand (bank transfers): the service, the console form on the invoice page
and /api/v1/payments/ (scoped reads, vendor-key writes, problem+json errors)."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django_tenants.utils import schema_context

from accounts.enums import PartnerRole, VendorRole
from billing.models import Invoice
from billing.models_invoicing import InvoiceStatus
from billing.services.credit_notes import credit_note_create
from core.api.problems import PROBLEM_CONTENT_TYPE
from payments.enums import PaymentKind, PaymentStatus
from payments.errors import PaymentError
from payments.models import Payment
from payments.services.charges import invoice_outstanding
from payments.services.manual import payment_record_manual
from tests.conftest import host_client, make_api_key
from tests.partners.program_fixtures import audit_actions, console_client, portal_client
from tests.payments.support import ACTOR, billing_partner, draft_invoice, finalize, save_method

pytestmark = pytest.mark.django_db
D = datetime.date
PAYMENTS = "/api/v1/payments/"


def open_invoice(name: str = "Kestrel IT", amount: str = "100.00") -> Invoice:
    invoice = draft_invoice(billing_partner(name), amount)
    finalize()
    invoice.refresh_from_db()
    return invoice


def record(invoice: Invoice, amount: str, reference: str = "SEPA-REF-1") -> Payment:
    return payment_record_manual(
        invoice=invoice,
        amount=Decimal(amount),
        received_on=D(2026, 11, 10),
        reference=reference,
        actor=ACTOR,
    )


def test_partial_payments_add_up_to_paid(vendor_a, stripe_off):
    with schema_context(vendor_a.schema):
        invoice = open_invoice()  # 119.00
        first = record(invoice, "19.00", "TRF-1")
        invoice.refresh_from_db()
        assert invoice.status == InvoiceStatus.OPEN
        assert (first.kind, first.status, first.attempt, first.received_on) == (
            PaymentKind.MANUAL,
            PaymentStatus.SUCCEEDED,
            None,
            D(2026, 11, 10),
        )
        with pytest.raises(PaymentError, match=r"Only €100\.00 is outstanding") as refused:
            record(invoice, "100.01")
        assert refused.value.field == "amount"
        record(invoice, "100.00", "TRF-2")
        invoice.refresh_from_db()
        assert (invoice.status, invoice.payment_reference) == (InvoiceStatus.PAID, "TRF-2")
        with pytest.raises(PaymentError, match="is paid"):
            record(invoice, "1.00")
        assert Payment.objects.filter(invoice=invoice).count() == 2


@pytest.mark.parametrize(
    ("amount", "reference", "field"),
    [
        ("0", "X", "amount"),
        ("-5", "X", "amount"),
        ("1.001", "X", "amount"),
        ("5", " ", "reference"),
    ],
)
def test_bad_manual_payments_are_refused(vendor_a, stripe_off, amount, reference, field):
    with schema_context(vendor_a.schema):
        invoice = open_invoice()
        with pytest.raises(PaymentError) as refused:
            record(invoice, amount, reference)
        assert refused.value.field == field
        assert not Payment.objects.exists()


def test_no_manual_payment_while_a_stripe_charge_is_in_flight(vendor_a, stripe_on):
    with schema_context(vendor_a.schema):
        partner = billing_partner()
        save_method(partner)
        invoice = draft_invoice(partner, "10.00")
        finalize()
        invoice.refresh_from_db()
        with pytest.raises(PaymentError, match="in progress"):
            record(invoice, "11.90")


def test_finance_records_a_payment_on_the_console_invoice_page(vendor_a, stripe_off):
    with schema_context(vendor_a.schema):
        invoice = open_invoice()
    finance = console_client(vendor_a, VendorRole.FINANCE)
    page = finance.get(f"/console/invoices/{invoice.pk}/")
    assert page.status_code == 200
    text = page.content.decode()
    assert 'id="payments-heading"' in text and "Record a payment" in text
    assert f'action="/console/invoices/{invoice.pk}/payments/new/"' in text
    response = finance.post(
        f"/console/invoices/{invoice.pk}/payments/new/",
        {"amount": "119.00", "received_on": "2026-11-10", "reference": "TRF-77"},
    )
    assert response.status_code == 302
    assert response["Location"] == f"/console/invoices/{invoice.pk}/"
    with schema_context(vendor_a.schema):
        invoice.refresh_from_db()
        assert invoice.status == InvoiceStatus.PAID
        payment = Payment.objects.get(invoice=invoice)
        assert payment.recorded_by_label.startswith("user")
    assert audit_actions(vendor_a)[-2:] == ["payment.recorded", "invoice.paid"]
    shown = finance.get(f"/console/invoices/{invoice.pk}/").content.decode()
    assert "TRF-77" in shown and "Record a payment" not in shown


def test_the_console_form_shows_service_errors(vendor_a, stripe_off):
    with schema_context(vendor_a.schema):
        invoice = open_invoice()
    response = console_client(vendor_a, VendorRole.ADMIN).post(
        f"/console/invoices/{invoice.pk}/payments/new/",
        {"amount": "500.00", "received_on": "2026-11-10", "reference": "TRF-77"},
    )
    assert response.status_code == 400
    assert "is outstanding on this invoice" in response.content.decode()
    with schema_context(vendor_a.schema):
        assert not Payment.objects.exists()


@pytest.mark.parametrize("role", [VendorRole.ANALYST, VendorRole.SUPPORT])
def test_other_console_roles_cannot_record_payments(vendor_a, stripe_off, role):
    with schema_context(vendor_a.schema):
        invoice = open_invoice()
    client = console_client(vendor_a, role)
    assert "Record a payment" not in client.get(f"/console/invoices/{invoice.pk}/").content.decode()
    response = client.post(
        f"/console/invoices/{invoice.pk}/payments/new/",
        {"amount": "119.00", "received_on": "2026-11-10", "reference": "TRF-77"},
    )
    assert response.status_code == 403
    with schema_context(vendor_a.schema):
        assert not Payment.objects.exists()
        assert Invoice.objects.get(pk=invoice.pk).status == InvoiceStatus.OPEN


def test_the_api_records_payments_with_vendor_keys_only(vendor_a, stripe_off):
    with schema_context(vendor_a.schema):
        invoice = open_invoice()
    vendor_key = host_client(vendor_a.host, HTTP_AUTHORIZATION=f"Bearer {make_api_key(vendor_a)}")
    partner_key = host_client(
        vendor_a.host,
        HTTP_AUTHORIZATION=f"Bearer {make_api_key(vendor_a, partner_id=invoice.partner_id)}",
    )
    body = {
        "invoice": invoice.pk,
        "amount": "119.00",
        "received_on": "2026-11-10",
        "reference": "R9",
    }
    refused = partner_key.post(PAYMENTS, body, content_type="application/json")
    assert refused.status_code == 403
    assert refused["Content-Type"] == PROBLEM_CONTENT_TYPE
    bad = vendor_key.post(PAYMENTS, {**body, "amount": "200.00"}, content_type="application/json")
    assert bad.status_code == 400 and bad["Content-Type"] == PROBLEM_CONTENT_TYPE
    assert "amount" in str(bad.json())
    with schema_context(vendor_a.schema):
        assert not Payment.objects.exists()
    created = vendor_key.post(PAYMENTS, body, content_type="application/json")
    assert created.status_code == 201, created.content
    with schema_context(vendor_a.schema):
        payment = Payment.objects.get()
        assert Invoice.objects.get(pk=invoice.pk).status == InvoiceStatus.PAID
    assert created.json() == {
        "id": payment.pk,
        "invoice": invoice.pk,
        "invoice_number": invoice.number,
        "partner": invoice.partner_id,
        "kind": "manual",
        "attempt": None,
        "status": "succeeded",
        "amount": "119.00",
        "currency": "EUR",
        "payment_method": "Bank transfer",
        "stripe_payment_intent": None,
        "failure_code": "",
        "failure_message": "",
        "reference": "R9",
        "received_on": "2026-11-10",
        "recorded_by": "API key tests",
        "settled_at": created.json()["settled_at"],
        "created_at": created.json()["created_at"],
    }


def test_partner_keys_list_only_their_own_payments(vendor_a, stripe_off):
    with schema_context(vendor_a.schema):
        mine = draft_invoice(billing_partner("Alpha IT"), "100.00")
        other = draft_invoice(billing_partner("Bravo IT"), "50.00")
        finalize()
        mine.refresh_from_db()
        other.refresh_from_db()
        own_payment = record(mine, "10.00", "A-1")
        other_payment = record(other, "10.00", "B-1")
    alpha = host_client(
        vendor_a.host,
        HTTP_AUTHORIZATION=f"Bearer {make_api_key(vendor_a, partner_id=mine.partner_id)}",
    )
    listed = alpha.get(PAYMENTS).json()["results"]
    assert [row["id"] for row in listed] == [own_payment.pk]
    assert alpha.get(f"{PAYMENTS}{other_payment.pk}/").status_code == 404
    assert alpha.get(PAYMENTS, {"partner": other.partner_id}).json()["results"] == []
    vendor = host_client(vendor_a.host, HTTP_AUTHORIZATION=f"Bearer {make_api_key(vendor_a)}")
    assert {row["id"] for row in vendor.get(PAYMENTS).json()["results"]} == {
        own_payment.pk,
        other_payment.pk,
    }


def test_the_portal_payments_page_lists_the_partners_payments(vendor_a, stripe_off):
    with schema_context(vendor_a.schema):
        invoice = open_invoice()
        partner = invoice.partner
        record(invoice, "19.00", "TRF-PORTAL-1")
    for role in PartnerRole.values:
        client = portal_client(vendor_a, partner, role)
        page = client.get("/portal/payments/")
        assert page.status_code == 200
        text = page.content.decode()
        assert "TRF-PORTAL-1" in text and "Bank transfer" in text
        detail = client.get(f"/portal/invoices/{invoice.pk}/").content.decode()
        assert "TRF-PORTAL-1" in detail and "Record a payment" not in detail


def test_a_credit_note_on_an_unpaid_invoice_lowers_what_is_left_to_collect(vendor_a, stripe_off):
    with schema_context(vendor_a.schema):
        invoice = open_invoice()  # 100.00 + 19 % tax = 119.00
        credit_note_create(
            invoice=invoice, reason="Goodwill", amount=Decimal("30.00"), actor=ACTOR
        )  # 30.00 + 5.70 tax
        invoice.refresh_from_db()
        assert invoice_outstanding(invoice) == Decimal("83.30")
        assert invoice.status == InvoiceStatus.OPEN
        with pytest.raises(PaymentError, match=r"Only €83\.30 is outstanding"):
            record(invoice, "119.00")
        record(invoice, "83.30", "TRF-9")
        invoice.refresh_from_db()
        assert (invoice.status, invoice.payment_reference) == (InvoiceStatus.PAID, "TRF-9")


def test_crediting_an_unpaid_invoice_in_full_settles_it(vendor_a, stripe_off):
    with schema_context(vendor_a.schema):
        invoice = open_invoice()
        note = credit_note_create(
            invoice=invoice, reason="Billed in error", amount=Decimal("100.00"), actor=ACTOR
        )
        invoice.refresh_from_db()
        assert note.total == Decimal("119.00")
        assert invoice_outstanding(invoice) == Decimal("0.00")
        assert (invoice.status, invoice.payment_reference) == (
            InvoiceStatus.PAID,
            f"Settled by credit note {note.number}",
        )
        assert not Payment.objects.filter(invoice=invoice).exists()
