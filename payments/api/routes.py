"""API resources of the payments app."""

from .views import PaymentViewSet


def register(router) -> None:
    """Add the payments app's viewsets to the /api/v1/ router."""
    router.register("payments", PaymentViewSet, basename="payment")
