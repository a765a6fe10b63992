"""API resources of the billing app."""

from .subscriptions import SubscriptionViewSet
from .usage import UsageEventViewSet
from .views import MeterViewSet, PricePlanViewSet


def register(router) -> None:
    """Add the billing app's viewsets to the /api/v1/ router."""
    router.register("meters", MeterViewSet, basename="meter")
    router.register("price-plans", PricePlanViewSet, basename="price-plan")
    router.register("usage-events", UsageEventViewSet, basename="usage-event")
    router.register("subscriptions", SubscriptionViewSet, basename="subscription")
