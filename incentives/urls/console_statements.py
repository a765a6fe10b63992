"""Console pages of commission statements, disputes and payouts (a plain pattern list, merged by
msp_program.urls_console)."""

from django.urls import path

from incentives.views import console_statements as views

urlpatterns: list = [
    path("statements/", views.statements, name="statements"),
    path("statements/approve/", views.statements_bulk_approve, name="statements_approve"),
    path("statements/<int:pk>/", views.statement_detail, name="statement_detail"),
    path("statements/<int:pk>/approve/", views.statement_approve_view, name="statement_approve"),
    path("statements/<int:pk>/pdf/", views.statement_pdf, name="statement_pdf"),
    path("statements/<int:pk>/statement.csv", views.statement_csv, name="statement_csv"),
    path(
        "statement-disputes/<int:pk>/resolve/",
        views.dispute_resolve_view,
        name="statement_dispute_resolve",
    ),
    path("payouts/", views.payouts, name="payouts"),
    path("payouts/<int:pk>/record/", views.payout_record, name="payout_record"),
]
