"""The statements/ and payouts/ resources (registered by msp_program.urls_api)."""

from .statements import PayoutViewSet, StatementViewSet


def register(router) -> None:
    router.register("statements", StatementViewSet, basename="statement")
    router.register("payouts", PayoutViewSet, basename="payout")
