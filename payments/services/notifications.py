"""Emails to a partner's billing users (its owners and billing members) about payments."""

from __future__ import annotations

from django.core.mail import EmailMultiAlternatives
from django.db import connection, transaction
from django.template.loader import render_to_string
from django.urls import reverse

from accounts.enums import PartnerRole
from billing.models import Invoice
from partners.models import PartnerMembership

from ..models import Payment

__all__ = ["billing_recipients", "notify_payment_failed", "send_payment_failed_email"]


def billing_recipients(partner_id: int) -> list[str]:
    return sorted(
        PartnerMembership.objects.filter(
            partner_id=partner_id,
            role__in=[PartnerRole.OWNER, PartnerRole.BILLING],
            user__is_active=True,
        ).values_list("user__email", flat=True)
    )


def notify_payment_failed(*, payment_id: int, final: bool) -> None:
    """Email the partner's billing users once the failure is committed (a Celery task)."""

    def send() -> None:
        from ..tasks import email_payment_failed

        email_payment_failed.delay(payment_id, final)

    transaction.on_commit(send)


def _portal_url(path: str) -> str:
    from tenancy.models import Domain

    host = (
        Domain.objects.filter(tenant__schema_name=connection.schema_name)
        .order_by("-is_primary", "domain")
        .values_list("domain", flat=True)
        .first()
    )
    return f"https://{host}{path}" if host else path


def send_payment_failed_email(*, payment_id: int, final: bool) -> int:
    """Send the email; returns the number of recipients."""
    payment = Payment.objects.select_related("partner").get(pk=payment_id)
    invoice = Invoice.objects.get(pk=payment.invoice_id)
    recipients = billing_recipients(payment.partner_id)
    if not recipients:
        return 0
    vendor = getattr(connection, "tenant", None)
    context = {
        "organisation": getattr(vendor, "name", "") or "Your vendor",
        "partner": payment.partner,
        "payment": payment,
        "invoice": invoice,
        "final": final,
        "payments_url": _portal_url(reverse("portal:payment_method")),
        "invoice_url": _portal_url(reverse("portal:invoice_detail", args=[invoice.pk])),
    }
    subject = "".join(render_to_string("emails/payment_failed_subject.txt", context).splitlines())
    message = EmailMultiAlternatives(
        subject=subject,
        body=render_to_string("emails/payment_failed.txt", context),
        to=recipients,
    )
    message.attach_alternative(render_to_string("emails/payment_failed.html", context), "text/html")
    message.send()
    return len(recipients)
