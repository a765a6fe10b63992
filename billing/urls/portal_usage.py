"""portal_usage pages of the billing app (a plain pattern list, merged by msp_program): usage this
month, CSV imports (upload, preview, progress, start, discard, template) and one client's usage."""

from django.urls import path

from billing.views import portal_usage as views

urlpatterns: list = [
    path("usage/", views.usage, name="usage"),
    path("usage/upload/", views.usage_upload, name="usage_upload"),
    path("usage/template.csv", views.usage_template, name="usage_template"),
    path("usage/imports/<int:pk>/", views.usage_import, name="usage_import"),
    path(
        "usage/imports/<int:pk>/progress/",
        views.usage_import_progress,
        name="usage_import_progress",
    ),
    path("usage/imports/<int:pk>/start/", views.usage_import_start, name="usage_import_start"),
    path(
        "usage/imports/<int:pk>/discard/",
        views.usage_import_discard,
        name="usage_import_discard",
    ),
    path("clients/<int:pk>/usage/", views.client_usage, name="client_usage"),
]
