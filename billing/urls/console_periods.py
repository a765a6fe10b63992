"""console_periods pages of the billing app (a plain pattern list, merged by msp_program): the
month-end close."""

from django.urls import path, re_path

from billing.views import console_periods as views

urlpatterns = [
    path("billing/periods/", views.billing_periods, name="billing_periods"),
    re_path(
        r"^billing/periods/(?P<month>\d{4}-\d{2})/close/$",
        views.billing_period_close,
        name="billing_period_close",
    ),
    re_path(
        r"^billing/periods/(?P<month>\d{4}-\d{2})/finalize/$",
        views.billing_period_finalize,
        name="billing_period_finalize",
    ),
]
