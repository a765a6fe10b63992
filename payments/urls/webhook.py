"""The Stripe webhook endpoint on a vendor's host."""

from django.urls import path

from payments.views.webhook import stripe_webhook

app_name = "stripe"
urlpatterns: list = [path("webhook/", stripe_webhook, name="webhook")]
