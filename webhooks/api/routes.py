"""API resources of the webhooks app."""

from .views import WebhookEndpointViewSet


def register(router) -> None:
    """Add the webhooks app's viewsets to the /api/v1/ router."""
    router.register("webhook-endpoints", WebhookEndpointViewSet, basename="webhook-endpoint")
