"""/console/ — the vendor console. Each app adds its pages here."""

from django.urls import path

from core.views_shell import console_home

app_name = "console"
urlpatterns = [
    path("", console_home, name="home"),
]
