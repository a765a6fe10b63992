"""/api/v1/ — every app registers its resources here; the schema and docs describe them all."""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.routers import SimpleRouter

from accounts.api.views import ApiKeyViewSet
from billing.api.routes import register as register_billing
from core.api.audit import AuditEntryViewSet
from incentives.api.plans import register as register_incentive_plans
from incentives.api.routes_statements import register as register_incentive_statements
from partners.api.routes import register as register_partners
from payments.api.routes import register as register_payments
from reporting.api.routes import register as register_reporting
from webhooks.api.routes import register as register_webhooks

router = SimpleRouter()
router.register("api-keys", ApiKeyViewSet, basename="api-key")
router.register("audit-events", AuditEntryViewSet, basename="audit-event")
register_partners(router)
register_billing(router)
register_payments(router)
register_reporting(router)
register_webhooks(router)
register_incentive_plans(router)
register_incentive_statements(router)

app_name = "api"
urlpatterns = [
    path(
        "schema/",
        SpectacularAPIView.as_view(authentication_classes=[], permission_classes=[]),
        name="schema",
    ),
    path(
        "docs/",
        SpectacularSwaggerView.as_view(
            url_name="api:schema", authentication_classes=[], permission_classes=[]
        ),
        name="docs",
    ),
    path("", include(router.urls)),
]
