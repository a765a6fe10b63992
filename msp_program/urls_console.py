"""/console/ — the vendor console. Each app contributes a list of patterns to this namespace."""

from django.urls import path

from accounts.urls_console import urlpatterns as accounts_patterns
from billing.urls import console_catalog, console_invoices, console_periods, console_usage
from core.urls_console import urlpatterns as core_patterns
from core.views_shell import console_home
from incentives.urls import console_plans as incentives_plans
from incentives.urls import console_statements as incentives_statements
from partners.urls import console_clients, console_partners, console_program
from payments.urls import console as payments_console
from webhooks.urls_console import urlpatterns as webhooks_patterns

app_name = "console"
urlpatterns = [
    path("", console_home, name="home"),
    *accounts_patterns,
    *core_patterns,
    *console_partners.urlpatterns,
    *console_program.urlpatterns,
    *console_clients.urlpatterns,
    *console_catalog.urlpatterns,
    *console_periods.urlpatterns,
    *console_invoices.urlpatterns,
    *payments_console.urlpatterns,
    *console_usage.urlpatterns,
    *webhooks_patterns,
    *incentives_plans.urlpatterns,
    *incentives_statements.urlpatterns,
]
