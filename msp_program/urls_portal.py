"""/portal/ — the partner portal. Each app adds its pages here."""

from django.urls import path

from core.views_shell import portal_home

app_name = "portal"
urlpatterns = [
    path("", portal_home, name="home"),
]
