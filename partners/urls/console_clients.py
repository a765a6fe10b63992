"""console_clients pages of the partners app (a plain pattern list, merged by msp_program)."""

from django.urls import path

from partners.views import console_clients

urlpatterns: list = [
    path("clients/", console_clients.clients, name="clients"),
]
