"""console_partners pages of the partners app (a plain pattern list, merged by msp_program):
partners, their lifecycle, applications and the onboarding checklists of tracks."""

from django.urls import path

from partners.views import console_applications as applications
from partners.views import console_partners as partners

urlpatterns: list = [
    path("partners/", partners.partners, name="partners"),
    path("partners/new/", partners.partner_create, name="partner_create"),
    path("partners/<int:pk>/", partners.partner_detail, name="partner_detail"),
    path("partners/<int:pk>/edit/", partners.partner_edit, name="partner_edit"),
    path(
        "partners/<int:pk>/suspend/",
        partners.partner_lifecycle,
        {"action": "suspend"},
        name="partner_suspend",
    ),
    path(
        "partners/<int:pk>/reactivate/",
        partners.partner_lifecycle,
        {"action": "reactivate"},
        name="partner_reactivate",
    ),
    path(
        "partners/<int:pk>/terminate/",
        partners.partner_lifecycle,
        {"action": "terminate"},
        name="partner_terminate",
    ),
    path(
        "partners/<int:pk>/onboarding/<int:step_pk>/sign-off/",
        partners.partner_onboarding_sign_off,
        name="onboarding_sign_off",
    ),
    path(
        "program/tracks/<int:pk>/onboarding/",
        partners.onboarding_steps,
        name="onboarding_steps",
    ),
    path(
        "onboarding-steps/<int:pk>/edit/",
        partners.onboarding_step_edit,
        name="onboarding_step_edit",
    ),
    path(
        "onboarding-steps/<int:pk>/delete/",
        partners.onboarding_step_delete_view,
        name="onboarding_step_delete",
    ),
    path(
        "onboarding-steps/<int:pk>/move/<str:direction>/",
        partners.onboarding_step_move_view,
        name="onboarding_step_move",
    ),
    path("applications/", applications.applications, name="applications"),
    path("applications/<int:pk>/", applications.application_detail, name="application_detail"),
    path(
        "applications/<int:pk>/approve/",
        applications.application_approve_view,
        name="application_approve",
    ),
    path(
        "applications/<int:pk>/reject/",
        applications.application_reject_view,
        name="application_reject",
    ),
]
