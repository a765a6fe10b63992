"""Console: record a payment received by bank transfer on an invoice (finance and admins). The
form sits in the payments section of the invoice page (`payments.invoice_sections`); this view
takes its POST and shows the form again with its errors."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render

from accounts.enums import VendorRole
from accounts.permissions import vendor_role_required
from billing.models import Invoice
from core.actors import Actor
from partners.evaluation import money
from partners.services.partners import today_for_vendor

from ..errors import PaymentError
from ..services.charges import invoice_outstanding
from ..services.manual import payment_record_manual

payment_recorder_required = vendor_role_required(
    VendorRole.FINANCE, message="Only finance and admins can record payments."
)


class ManualPaymentForm(forms.Form):
    amount = forms.DecimalField(max_digits=18, decimal_places=4, min_value=0)
    received_on = forms.DateField(
        label="Received on", widget=forms.DateInput(attrs={"type": "date"})
    )
    reference = forms.CharField(
        max_length=200, help_text="The bank transfer's reference, as on the statement."
    )

    def add_service_error(self, exc: PaymentError) -> None:
        self.add_error(exc.field if exc.field in self.fields else None, str(exc))


def manual_payment_form(invoice: Invoice, data=None) -> ManualPaymentForm:
    outstanding = invoice_outstanding(invoice)
    form = ManualPaymentForm(
        data, initial={"amount": outstanding, "received_on": today_for_vendor()}
    )
    form.fields["amount"].help_text = (
        f"{money(outstanding, invoice.currency)} is outstanding; a smaller amount is recorded "
        "as a partial payment."
    )
    return form


@payment_recorder_required
def manual_payment_create(request: HttpRequest, pk: int) -> HttpResponse:
    invoice = get_object_or_404(Invoice.objects.select_related("partner", "period"), pk=pk)
    if request.method != "POST":
        form = manual_payment_form(invoice)
    else:
        form = manual_payment_form(invoice, request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                payment = payment_record_manual(
                    invoice=invoice,
                    amount=data["amount"],
                    received_on=data["received_on"],
                    reference=data["reference"],
                    actor=Actor.from_request(request),
                )
            except PaymentError as exc:
                form.add_service_error(exc)
            else:
                messages.success(
                    request,
                    f"Payment of {money(payment.amount, payment.currency)} recorded on "
                    f"{invoice.number}.",
                )
                return redirect("console:invoice_detail", pk=invoice.pk)
    return render(
        request,
        "payments/console/manual_payment.html",
        {"invoice": invoice, "form": form},
        status=400 if form.is_bound else 200,
    )
