from django.urls import path

from . import views

app_name = "operator"
urlpatterns = [path("", views.vendor_list, name="vendor_list")]
