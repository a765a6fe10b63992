"""Console pages of the payments app (a plain pattern list, merged by msp_program)."""

from django.urls import path

from payments.views import console as views

urlpatterns: list = [
    path(
        "invoices/<int:pk>/payments/new/",
        views.manual_payment_create,
        name="invoice_payment_create",
    ),
]
