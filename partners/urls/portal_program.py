"""Portal pages of the program: tier and agreement (a plain pattern list, merged into the
`portal` namespace by msp_program)."""

from django.urls import path

from partners.views import portal_program as views

urlpatterns: list = [
    path("tier/", views.tier, name="tier"),
    path("agreement/", views.agreement, name="agreement"),
    path("agreement/accept/", views.agreement_accept_view, name="agreement_accept"),
    path("agreement/print/", views.agreement_print, name="agreement_print"),
    path("agreement/print/<int:pk>/", views.agreement_print, name="agreement_print"),
]
