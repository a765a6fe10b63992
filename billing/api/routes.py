"""API resources of the billing app."""

from .views import MeterViewSet, PricePlanViewSet


def register(router) -> None:
    """Add the billing app's viewsets to the /api/v1/ router."""
    router.register("meters", MeterViewSet, basename="meter")
    router.register("price-plans", PricePlanViewSet, basename="price-plan")
