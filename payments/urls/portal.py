"""Portal pages of the payments app (a plain pattern list, merged by msp_program)."""

from django.urls import path

from payments.views import portal as views

urlpatterns: list = [
    path("payments/", views.payments, name="payments"),
    path("payments/method/", views.payment_method, name="payment_method"),
    path("payments/method/setup/", views.payment_method_setup, name="payment_method_setup"),
    path("payments/method/remove/", views.payment_method_remove_view, name="payment_method_remove"),
]
