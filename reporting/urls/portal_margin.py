"""portal_margin pages of the reporting app (a plain pattern list, merged by msp_program)."""

from django.urls import path

from reporting.views import portal_margin as views

urlpatterns: list = [
    path("margin/", views.margin, name="margin"),
    path("margin/export.csv", views.margin_export, name="margin_export"),
    path("margin/prices/", views.prices, name="margin_prices"),
    path("margin/prices/set/", views.price_set, name="margin_price_set"),
]
