"""Console pages of core (the audit log), mounted in the `console` namespace."""

from django.urls import path

from .views_audit import audit_log

urlpatterns: list = [
    path("audit-log/", audit_log, name="audit_log"),
]
