"""Console pages of the webhooks app, mounted in the `console` namespace."""

from django.urls import path

from .views import console as views

urlpatterns: list = [
    path("webhooks/", views.webhooks, name="webhooks"),
    path("webhooks/new/", views.webhook_create, name="webhook_create"),
    path("webhooks/<int:pk>/", views.webhook_detail, name="webhook_detail"),
    path("webhooks/<int:pk>/edit/", views.webhook_edit, name="webhook_edit"),
    path("webhooks/<int:pk>/active/", views.webhook_set_active, name="webhook_set_active"),
    path("webhooks/<int:pk>/delete/", views.webhook_delete, name="webhook_delete"),
    path("webhooks/<int:pk>/secret/", views.webhook_secret, name="webhook_secret"),
    path(
        "webhooks/<int:pk>/rotate-secret/",
        views.webhook_rotate_secret,
        name="webhook_rotate_secret",
    ),
    path("webhooks/<int:pk>/test/", views.webhook_send_test, name="webhook_send_test"),
    path(
        "webhooks/<int:pk>/deliveries/<int:delivery_pk>/",
        views.webhook_delivery,
        name="webhook_delivery",
    ),
    path(
        "webhooks/<int:pk>/deliveries/<int:delivery_pk>/retry/",
        views.webhook_delivery_retry,
        name="webhook_delivery_retry",
    ),
]
