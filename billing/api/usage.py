"""POST /api/v1/usage-events/ — the ingestion fast path (`billing.ingest`).

The body is read with orjson straight from `request.body` (DRF's parsers and per-item serializers
would cost more than the whole insert); the serializers below only document the shapes in the
OpenAPI schema. Authentication, throttling, Idempotency-Key and problem+json are the API's own.
"""

from __future__ import annotations

from django.http import HttpResponse
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiResponse,
    PolymorphicProxySerializer,
    extend_schema,
)
from rest_framework import serializers
from rest_framework.response import Response

from billing.ingest import MAX_BATCH, BatchError, ingest_batch, parse_batch
from billing.models import UsageEvent
from core.api.problems import PROBLEM_CONTENT_TYPE, problem_body, problem_response
from core.api.views import ApiViewSet
from partners.api.serializers import FieldErrorSerializer, ProblemSerializer


class UsageEventInputSerializer(serializers.Serializer):
    """One usage event (documentation only: the view checks events by hand)."""

    event_id = serializers.CharField(
        max_length=255, help_text="Your unique id of the event: a repeat is counted once."
    )
    client = serializers.CharField(help_text="The client's external_id.")
    partner = serializers.CharField(
        required=False,
        help_text="The client's partner: its id or external_id. Required with vendor keys; "
        "partner keys may leave it out (their own partner), and name no other.",
    )
    meter = serializers.CharField(help_text="The meter's code.")
    quantity = serializers.CharField(
        help_text='Not negative, at most 6 decimals: a string ("12.5") or an integer. JSON '
        "numbers with a fraction are refused (they lose precision)."
    )
    timestamp = serializers.DateTimeField(
        help_text="ISO 8601 with an offset; at most 5 minutes in the future."
    )
    properties = serializers.DictField(required=False, help_text="Any JSON object.")


class RejectedItemSerializer(serializers.Serializer):
    index = serializers.IntegerField(help_text="The event's position in the batch (0-based).")
    errors = FieldErrorSerializer(many=True)


class UsageEventResultSerializer(serializers.Serializer):
    accepted = serializers.IntegerField(help_text="Events stored by this request.")
    duplicates = serializers.IntegerField(
        help_text="Events whose event_id was already stored (or repeated in the batch)."
    )
    rejected = RejectedItemSerializer(many=True)


class UsageEventRejectedProblemSerializer(ProblemSerializer):
    accepted = serializers.IntegerField(help_text="Always 0.")
    duplicates = serializers.IntegerField(help_text="Always 0.")
    rejected = RejectedItemSerializer(many=True)


def _problem(status: int, description: str) -> dict:
    return {
        (status, PROBLEM_CONTENT_TYPE): OpenApiResponse(ProblemSerializer, description=description)
    }


class UsageEventViewSet(ApiViewSet):
    """Write-only: events are read back through usage reports and invoices."""

    def base_queryset(self):
        return UsageEvent.objects.all()

    @extend_schema(
        summary="Report usage events (one, or a batch of up to 1,000)",
        description=(
            "Idempotent by `event_id`: an event already stored (or repeated in the batch) counts "
            "as a duplicate and is not stored again. Each event is checked on its own: a bad one "
            "is listed in `rejected` with its errors and the valid ones are stored. 200 when any "
            "event was accepted or a duplicate; 422 (problem+json with the same counts) when "
            f"every event was rejected. More than {MAX_BATCH} events: 413, nothing stored."
        ),
        request=PolymorphicProxySerializer(
            component_name="UsageEventBatch",
            serializers=[UsageEventInputSerializer, UsageEventInputSerializer(many=True)],
            resource_type_field_name=None,
            many=False,
        ),
        responses={
            200: UsageEventResultSerializer,
            (422, PROBLEM_CONTENT_TYPE): OpenApiResponse(
                UsageEventRejectedProblemSerializer,
                description="Every event was rejected: `rejected` says why; nothing was stored.",
            ),
            **_problem(400, "Malformed JSON or not an event or list of events."),
            **_problem(413, f"More than {MAX_BATCH} events; nothing stored."),
            **_problem(415, "The body must be application/json."),
        },
        examples=[
            OpenApiExample(
                "One event",
                request_only=True,
                value={
                    "event_id": "rmm-7f3a-000123",
                    "client": "ACME-01",
                    "partner": "P-1001",
                    "meter": "storage_gb",
                    "quantity": "12.5",
                    "timestamp": "2026-10-05T14:30:00Z",
                    "properties": {"device_id": "dev-42"},
                },
            )
        ],
    )
    def create(self, request) -> HttpResponse:
        content_type = request.content_type or ""
        if content_type.split(";")[0].strip().lower() != "application/json":
            return problem_response(
                415,
                "Unsupported media type",
                "Send the events as application/json.",
                slug="unsupported-media-type",
            )
        try:
            items = parse_batch(request.body)
        except BatchError as exc:
            title = "Payload too large" if exc.status == 413 else "Bad request"
            return problem_response(exc.status, title, str(exc), slug=exc.slug)
        result = ingest_batch(items, caller_partner_id=self.caller_partner_id())
        if result.accepted or result.duplicates:
            return Response(result.as_dict())
        body = problem_body(
            422,
            "Unprocessable content",
            "Every usage event was rejected; nothing was stored.",
            slug="usage-events-rejected",
        )
        return Response({**body, **result.as_dict()}, status=422, content_type=PROBLEM_CONTENT_TYPE)
