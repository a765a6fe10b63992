"""/portal/ — the partner portal. Each app contributes a list of patterns to this namespace."""

from django.urls import path

from billing.urls import portal_invoices, portal_subscriptions, portal_usage
from core.views_shell import portal_home
from incentives.urls import portal_statements as incentives_statements
from partners.urls import portal_clients, portal_onboarding, portal_program
from payments.urls import portal as payments_portal
from reporting.urls import portal_margin

app_name = "portal"
urlpatterns = [
    path("", portal_home, name="home"),
    *portal_program.urlpatterns,
    *portal_onboarding.urlpatterns,
    *portal_clients.urlpatterns,
    *portal_subscriptions.urlpatterns,
    *portal_usage.urlpatterns,
    *portal_invoices.urlpatterns,
    *incentives_statements.urlpatterns,
    *payments_portal.urlpatterns,
    *portal_margin.urlpatterns,
]
