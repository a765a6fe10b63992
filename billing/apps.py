from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "billing"
    verbose_name = "Billing"

    def ready(self) -> None:
        from partners.requirements import register_metric

        from .selectors_mrr import latest_mrr

        # Tier evaluation's minimum-MRR requirement reads the MRR recorded at finalize.
        register_metric("mrr", latest_mrr)

        from .client_sections_subscriptions import register_subscriptions_section

        register_subscriptions_section()

        from .client_sections_usage import register_usage_section

        register_usage_section()

        from webhooks.payloads import register_payload_builder

        from .webhook_payloads import invoice_paid, invoices_finalized

        # Outbound webhooks: what `invoice.finalized` / `invoice.paid` carry.
        register_payload_builder("invoice.finalized", invoices_finalized)
        register_payload_builder("invoice.paid", invoice_paid)
