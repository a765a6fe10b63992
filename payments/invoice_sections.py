"""The "Payments" section of an invoice's page (console and portal), registered with billing's
hook for sections of higher apps (`billing.invoice_sections`) from PaymentsConfig.ready()."""

from __future__ import annotations

from django.http import HttpRequest
from django.template.loader import render_to_string

from accounts.enums import VendorRole

from .models import PaymentProfile
from .selectors import invoice_payments, invoice_refunds
from .services.charges import invoice_outstanding
from .services.manual import MANUAL_PAYABLE


def render_payments_section(request: HttpRequest, invoice, area: str) -> str | None:
    from .views.console import manual_payment_form

    profile = PaymentProfile.objects.filter(partner_id=invoice.partner_id).first()
    charges_automatically = bool(profile and profile.charges_automatically)
    payments = invoice_payments(invoice.pk)
    console = area == "console"
    can_record = (
        console
        and not invoice.is_draft
        and invoice.status in MANUAL_PAYABLE
        and request.user.is_console_user
        and request.user.has_vendor_role(VendorRole.FINANCE)
    )
    return render_to_string(
        "payments/includes/invoice_section.html",
        {
            "invoice": invoice,
            "area": area,
            "console": console,
            "payments": payments,
            "refunds": invoice_refunds(invoice.pk),
            "outstanding": invoice_outstanding(invoice),
            "method_label": profile.method_label if profile else "Bank transfer",
            "charges_automatically": charges_automatically,
            "can_record": can_record,
            "form": manual_payment_form(invoice) if can_record else None,
        },
        request=request,
    )
