from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.models import AuditEntry


class AuditEntrySerializer(serializers.ModelSerializer):
    actor = serializers.SerializerMethodField()

    class Meta:
        model = AuditEntry
        fields = [
            "id",
            "at",
            "actor",
            "ip",
            "action",
            "object_type",
            "object_id",
            "object_repr",
            "before",
            "after",
            "request_id",
        ]

    @extend_schema_field(
        {
            "type": "object",
            "properties": {
                "kind": {"type": "string"},
                "id": {"type": "integer", "nullable": True},
                "label": {"type": "string"},
            },
        }
    )
    def get_actor(self, obj: AuditEntry) -> dict:
        return {"kind": obj.actor_kind, "id": obj.actor_id, "label": obj.actor_label}
