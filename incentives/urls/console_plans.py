"""Console pages of commission plans and growth bonus rules — the Incentives area's home (a
plain pattern list, merged by msp_program.urls_console). Names start with `incentives` so the
sidebar's Incentives entry stays current on every one of them."""

from django.urls import path

from incentives.views import console_plans as views

urlpatterns: list = [
    path("incentives/", views.plans, name="incentives"),
    path("incentives/plans/new/", views.plan_create, name="incentives_plan_create"),
    path("incentives/plans/<int:pk>/", views.plan_detail, name="incentives_plan"),
    path(
        "incentives/growth-bonus-rules/new/",
        views.growth_rule_create,
        name="incentives_growth_rule_create",
    ),
    path(
        "incentives/growth-bonus-rules/<int:pk>/",
        views.growth_rule_detail,
        name="incentives_growth_rule",
    ),
]
