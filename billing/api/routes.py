"""API resources of the billing app."""

from .invoices import CreditNoteViewSet, InvoiceViewSet
from .periods import BillingPeriodViewSet
from .subscriptions import SubscriptionViewSet
from .usage import UsageEventViewSet
from .views import MeterViewSet, PricePlanViewSet


def register(router) -> None:
    """Add the billing app's viewsets to the /api/v1/ router."""
    router.register("meters", MeterViewSet, basename="meter")
    router.register("price-plans", PricePlanViewSet, basename="price-plan")
    router.register("usage-events", UsageEventViewSet, basename="usage-event")
    router.register("subscriptions", SubscriptionViewSet, basename="subscription")
    router.register("invoices", InvoiceViewSet, basename="invoice")
    router.register("credit-notes", CreditNoteViewSet, basename="credit-note")
    router.register("billing-periods", BillingPeriodViewSet, basename="billing-period")
