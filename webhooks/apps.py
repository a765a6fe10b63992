from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "webhooks"
    verbose_name = "Outbound webhooks"

    def ready(self) -> None:
        # The only way this app learns what happened: domain events (core.events). Payload
        # builders are registered by the apps that own the objects (webhooks.payloads).
        from .services.events import subscribe_all

        subscribe_all()
