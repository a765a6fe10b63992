"""GET /api/v1/audit-events/ — the vendor's audit log, filterable; vendor keys only."""

import django_filters
from rest_framework import mixins

from core.models import AuditEntry

from .serializers import AuditEntrySerializer
from .views import ApiViewSet


class AuditEntryFilter(django_filters.FilterSet):
    action = django_filters.CharFilter()
    object_type = django_filters.CharFilter()
    object_id = django_filters.CharFilter()
    actor_kind = django_filters.CharFilter()
    since = django_filters.IsoDateTimeFilter(field_name="at", lookup_expr="gte")
    until = django_filters.IsoDateTimeFilter(field_name="at", lookup_expr="lt")

    class Meta:
        model = AuditEntry
        fields = ["action", "object_type", "object_id", "actor_kind"]


class AuditEntryViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ApiViewSet):
    serializer_class = AuditEntrySerializer
    filterset_class = AuditEntryFilter

    def base_queryset(self):
        return AuditEntry.objects.all()
