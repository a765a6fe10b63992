"""portal_subscriptions pages of the billing app (a plain pattern list, merged by msp_program):
subscribe one of the partner's clients, change a subscription's seats, end it. Each page shows
its form (again, with the errors, after a refused submit) and goes back to the client's page."""

from django.urls import path

from billing.views import subscriptions

urlpatterns: list = [
    path(
        "clients/<int:pk>/subscriptions/new/",
        subscriptions.portal_subscription_create,
        name="client_subscription_create",
    ),
    path(
        "subscriptions/<int:pk>/quantity/",
        subscriptions.portal_subscription_quantity,
        name="subscription_quantity",
    ),
    path(
        "subscriptions/<int:pk>/end/",
        subscriptions.portal_subscription_end,
        name="subscription_end",
    ),
]
