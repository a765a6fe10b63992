"""/api/v1/webhook-endpoints/ — register and manage outbound webhook endpoints (vendor keys).

Partner keys see no endpoint: lists are empty, an endpoint answers 404 and creating one 403.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import exceptions, mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.exceptions import ErrorDetail
from rest_framework.response import Response

from core.actors import Actor
from core.api.views import ApiViewSet

from ..enums import DeliveryStatus
from ..errors import WebhookError
from ..models import WebhookEndpoint
from ..selectors import endpoint_deliveries
from ..services.endpoints import (
    webhook_endpoint_create,
    webhook_endpoint_delete,
    webhook_endpoint_update,
)
from .serializers import (
    IssuedWebhookEndpointSerializer,
    WebhookDeliverySerializer,
    WebhookEndpointCreateSerializer,
    WebhookEndpointSerializer,
    WebhookEndpointUpdateSerializer,
)


class WebhookProblemSerializer(serializers.Serializer):
    """application/problem+json (RFC 9457)."""

    type = serializers.CharField()
    title = serializers.CharField()
    status = serializers.IntegerField()
    detail = serializers.CharField()
    errors = serializers.ListField(child=serializers.DictField(), required=False)


_MEANINGS = {
    400: "Invalid input: `errors` lists each field's problem; nothing was saved.",
    403: "Not allowed for this key (partner keys cannot manage webhooks); nothing was saved.",
    404: "No such endpoint (or a partner key).",
}


def problems(*codes: int) -> dict:
    return {
        (code, "application/problem+json"): OpenApiResponse(
            WebhookProblemSerializer, description=_MEANINGS[code]
        )
        for code in codes
    }


@contextlib.contextmanager
def service_errors() -> Iterator[None]:
    """A service's WebhookError → 400 naming its field."""
    try:
        yield
    except WebhookError as exc:
        raise exceptions.ValidationError(
            {exc.field or "non_field_errors": [ErrorDetail(str(exc), code="invalid")]}
        ) from exc


@extend_schema_view(
    list=extend_schema(
        summary="List webhook endpoints",
        responses={200: WebhookEndpointSerializer(many=True)},
    ),
    retrieve=extend_schema(
        summary="Get a webhook endpoint",
        responses={200: WebhookEndpointSerializer, **problems(404)},
    ),
    destroy=extend_schema(
        summary="Delete a webhook endpoint and its delivery log",
        responses={204: None, **problems(404)},
    ),
)
class WebhookEndpointViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin, ApiViewSet
):
    serializer_class = WebhookEndpointSerializer
    # ScopedViewSetMixin: a partner key's queryset is empty (404 on every endpoint).

    def base_queryset(self):
        return WebhookEndpoint.objects.order_by("-id")

    @extend_schema(
        summary="Register a webhook endpoint (vendor keys only)",
        description=(
            "The answer carries the signing `secret`, once. Every delivery is a POST signed "
            "with it: see the API guide, *Webhooks*."
        ),
        request=WebhookEndpointCreateSerializer,
        responses={201: IssuedWebhookEndpointSerializer, **problems(400, 403)},
    )
    def create(self, request):
        if self.caller_partner_id() is not None:
            raise exceptions.PermissionDenied("Partner keys cannot register webhook endpoints.")
        incoming = WebhookEndpointCreateSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        with service_errors():
            endpoint = webhook_endpoint_create(
                actor=Actor.from_request(request), **incoming.validated_data
            )
        response = Response(
            IssuedWebhookEndpointSerializer(endpoint).data, status=status.HTTP_201_CREATED
        )
        response.idempotency_redact = ["secret"]  # a replay must not reveal the secret again
        return response

    @extend_schema(
        summary="Change a webhook endpoint",
        description="Any of `url`, `description`, `event_types`, `active`.",
        request=WebhookEndpointUpdateSerializer,
        responses={200: WebhookEndpointSerializer, **problems(400, 404)},
    )
    def partial_update(self, request, pk=None):
        endpoint = self.get_object()
        incoming = WebhookEndpointUpdateSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        with service_errors():
            endpoint = webhook_endpoint_update(
                endpoint=endpoint, actor=Actor.from_request(request), **incoming.validated_data
            )
        return Response(WebhookEndpointSerializer(endpoint).data)

    def perform_destroy(self, instance: WebhookEndpoint) -> None:
        webhook_endpoint_delete(endpoint=instance, actor=Actor.from_request(self.request))

    @extend_schema(
        summary="List an endpoint's deliveries (newest first)",
        parameters=[
            OpenApiParameter(
                "status",
                OpenApiTypes.STR,
                enum=DeliveryStatus.values,
                description="Only deliveries in this state.",
            )
        ],
        responses={200: WebhookDeliverySerializer(many=True), **problems(400, 404)},
    )
    @action(detail=True, methods=["get"], serializer_class=WebhookDeliverySerializer)
    def deliveries(self, request, pk=None):
        endpoint = self.get_object()
        wanted = request.query_params.get("status") or None
        if wanted is not None and wanted not in DeliveryStatus.values:
            raise exceptions.ValidationError(
                {
                    "status": [
                        ErrorDetail(
                            "Choose one of " + ", ".join(DeliveryStatus.values) + ".",
                            code="invalid_choice",
                        )
                    ]
                }
            )
        page = self.paginate_queryset(endpoint_deliveries(endpoint, wanted))
        return self.get_paginated_response(WebhookDeliverySerializer(page, many=True).data)
