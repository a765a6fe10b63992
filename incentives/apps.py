from django.apps import AppConfig


class IncentivesConfig(AppConfig):
    name = "incentives"
    verbose_name = "Incentives"

    def ready(self) -> None:
        from billing.closing.credits import register_credit_provider

        from .services.payouts import invoice_credits

        # Commission payouts by invoice credit go on the partner's next finalized invoice.
        register_credit_provider(invoice_credits)

        from webhooks.payloads import register_payload_builder

        from .webhook_payloads import payout_paid, statement_approved

        register_payload_builder("statement.approved", statement_approved)
        register_payload_builder("payout.paid", payout_paid)

        from .events import subscribe_accrual

        # Commission accrual and clawbacks follow billing's events (incentives/events.py).
        subscribe_accrual()
