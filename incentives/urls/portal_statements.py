"""Portal pages of commission statements and the payout method (a plain pattern list, merged by
msp_program.urls_portal)."""

from django.urls import path

from incentives.views import portal_statements as views

urlpatterns: list = [
    path("commissions/", views.commissions, name="commissions"),
    path(
        "commissions/payout-method/",
        views.commission_payout_profile,
        name="commission_payout_profile",
    ),
    path("commissions/<int:pk>/", views.commission_statement, name="commission_statement"),
    path(
        "commissions/<int:pk>/pdf/", views.commission_statement_pdf, name="commission_statement_pdf"
    ),
    path(
        "commissions/<int:pk>/statement.csv",
        views.commission_statement_csv,
        name="commission_statement_csv",
    ),
    path(
        "commissions/<int:pk>/entries/<int:entry_pk>/dispute/",
        views.commission_dispute,
        name="commission_dispute",
    ),
]
