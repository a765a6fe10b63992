from django.apps import AppConfig


class PartnersConfig(AppConfig):
    name = "partners"
    verbose_name = "Partners"

    def ready(self) -> None:
        from webhooks.payloads import register_payload_builder

        from .webhook_payloads import partner_approved

        # Outbound webhooks: what `partner.approved` carries.
        register_payload_builder("partner.approved", partner_approved)
