"""console_invoices pages of the billing app (a plain pattern list, merged by msp_program)."""

from django.urls import path

from billing.views import console_invoices as views

urlpatterns: list = [
    path("invoices/", views.invoices, name="invoices"),
    path("invoices/export.csv", views.invoices_export, name="invoices_export"),
    path("invoices/<int:pk>/", views.invoice_detail, name="invoice_detail"),
    path("invoices/<int:pk>/pdf/", views.invoice_pdf, name="invoice_pdf"),
    path("invoices/<int:pk>/lines.csv", views.invoice_lines_export, name="invoice_lines_export"),
    path(
        "invoices/<int:pk>/credit-notes/new/",
        views.credit_note_create_view,
        name="invoice_credit_note_create",
    ),
]
