from django.apps import AppConfig


class PaymentsConfig(AppConfig):
    name = "payments"
    verbose_name = "Payments"

    def ready(self) -> None:
        from core.events import subscribe

        from .handlers import on_billing_period_finalized, on_credit_note_issued

        # Charging starts when a month is finalized; refunds follow credit notes.
        subscribe("billing_period.finalized", on_billing_period_finalized)
        subscribe("credit_note.issued", on_credit_note_issued)

        from billing.invoice_sections import register_invoice_section

        from .invoice_sections import render_payments_section

        register_invoice_section("payments", render_payments_section)
