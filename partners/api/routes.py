"""API resources of the partners app."""

from .views import ClientViewSet, PartnerViewSet, TierViewSet, TrackViewSet


def register(router) -> None:
    """Add the partners app's viewsets to the /api/v1/ router."""
    router.register("partners", PartnerViewSet, basename="partner")
    router.register("clients", ClientViewSet, basename="client")
    router.register("tracks", TrackViewSet, basename="track")
    router.register("tiers", TierViewSet, basename="tier")
