from django.urls import path

from .views.home import home

app_name = "root"
urlpatterns = [path("", home, name="home")]
