"""/api/v1/ — every app registers its resources here; the schema and docs describe them all."""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.routers import SimpleRouter

from accounts.api.views import ApiKeyViewSet
from billing.api.routes import register as register_billing
from core.api.audit import AuditEntryViewSet
from partners.api.routes import register as register_partners

router = SimpleRouter()
router.register("api-keys", ApiKeyViewSet, basename="api-key")
router.register("audit-events", AuditEntryViewSet, basename="audit-event")
register_partners(router)
register_billing(router)

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
