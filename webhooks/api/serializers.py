"""Serializers of /api/v1/webhook-endpoints/: output shapes, and input shapes that only check form
(the services decide what is a valid URL or event type)."""

from __future__ import annotations

from rest_framework import serializers

from core.api.inputs import StrictInputSerializer

from ..enums import DeliveryStatus, WebhookEventType
from ..models import WebhookDelivery, WebhookEndpoint


class WebhookEndpointSerializer(serializers.ModelSerializer):
    event_types = serializers.ListField(
        child=serializers.ChoiceField(choices=WebhookEventType.choices),
        help_text="The event types sent to this endpoint.",
    )

    class Meta:
        model = WebhookEndpoint
        fields = [
            "id",
            "url",
            "description",
            "event_types",
            "active",
            "created_at",
            "updated_at",
            "secret_rotated_at",
        ]
        read_only_fields = fields


class IssuedWebhookEndpointSerializer(WebhookEndpointSerializer):
    secret = serializers.CharField(
        read_only=True,
        help_text="The signing secret (`whsec_…`). Returned only in the answer that created the "
        "endpoint; admins can see or rotate it in the console.",
    )

    class Meta(WebhookEndpointSerializer.Meta):
        fields = [*WebhookEndpointSerializer.Meta.fields, "secret"]
        read_only_fields = fields


class WebhookEndpointCreateSerializer(StrictInputSerializer):
    url = serializers.CharField(max_length=2000, help_text="An http(s) URL that accepts POSTs.")
    description = serializers.CharField(
        max_length=200, required=False, allow_blank=True, default=""
    )
    event_types = serializers.ListField(
        child=serializers.ChoiceField(choices=WebhookEventType.choices),
        allow_empty=False,
        help_text="At least one event type.",
    )


class WebhookEndpointUpdateSerializer(StrictInputSerializer):
    url = serializers.CharField(max_length=2000, required=False)
    description = serializers.CharField(max_length=200, required=False, allow_blank=True)
    event_types = serializers.ListField(
        child=serializers.ChoiceField(choices=WebhookEventType.choices),
        allow_empty=False,
        required=False,
    )
    active = serializers.BooleanField(
        required=False, help_text="false: no new deliveries, pending ones wait until true."
    )


class WebhookDeliverySerializer(serializers.ModelSerializer):
    event_id = serializers.CharField(source="event.event_id", read_only=True)
    event_type = serializers.CharField(source="event.type", read_only=True)
    status = serializers.ChoiceField(choices=DeliveryStatus.choices, read_only=True)
    last_response_excerpt = serializers.CharField(
        read_only=True, help_text="The first 1,000 bytes of the last answer's body."
    )

    class Meta:
        model = WebhookDelivery
        fields = [
            "id",
            "event_id",
            "event_type",
            "status",
            "attempts",
            "next_attempt_at",
            "last_attempt_at",
            "last_status_code",
            "last_error",
            "last_response_excerpt",
            "last_duration_ms",
            "succeeded_at",
            "created_at",
        ]
        read_only_fields = fields
