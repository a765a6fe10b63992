"""/operator/ on the platform host: platform operators (staff users of the public schema)."""

from django.urls import path

from . import views

app_name = "operator"
urlpatterns = [
    path("", views.vendor_list, name="vendor_list"),
    path("vendors/new/", views.vendor_create_view, name="vendor_create"),
    path("vendors/<int:pk>/", views.vendor_detail, name="vendor_detail"),
    path("vendors/<int:pk>/suspend/", views.vendor_suspend_view, name="vendor_suspend"),
    path("vendors/<int:pk>/reactivate/", views.vendor_reactivate_view, name="vendor_reactivate"),
    path("audit-log/", views.audit_log, name="audit_log"),
]
