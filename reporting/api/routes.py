"""API resources of the reporting app."""

from .views import MarginViewSet, ResalePriceViewSet


def register(router) -> None:
    """Add the reporting app's viewsets to the /api/v1/ router."""
    router.register("margin", MarginViewSet, basename="margin")
    router.register("resale-prices", ResalePriceViewSet, basename="resale-price")
