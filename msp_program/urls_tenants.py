"""URLs on a vendor's domain: the console, the partner portal, accounts and the API."""

from django.urls import include, path

from core.views import healthz

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("accounts/", include("accounts.urls")),
    path("console/", include("msp_program.urls_console")),
    path("portal/", include("msp_program.urls_portal")),
    path("api/v1/", include("msp_program.urls_api")),
    # Stripe's webhook events for this vendor (signature-checked, CSRF-exempt).
    path("stripe/", include("payments.urls.webhook")),
    # Public pages of the vendor's portal domain (the partner application form).
    path("", include(("partners.urls.public", "public"))),
    path("", include("accounts.urls_root")),
]

handler400 = "core.views_errors.bad_request"
handler403 = "core.views_errors.permission_denied"
handler404 = "core.views_errors.page_not_found"
handler500 = "core.views_errors.server_error"
