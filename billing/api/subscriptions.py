"""/api/v1/subscriptions/ and subscriptions/{id}/quantity-changes/ — thin views over
`billing.services.subscriptions`.

A vendor key sees every subscription; a partner key only those of its own clients (others answer
404 and never appear in lists), and may subscribe only its own clients: another partner's client
id answers 400 with the same message as an id that does not exist, so nothing leaks.
"""

from __future__ import annotations

from typing import Any

import django_filters
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response

from billing.api.views import service_errors
from billing.models import PricePlan, SeatQuantityChange, Subscription
from billing.services.subscriptions import subscription_change_quantity, subscription_create
from core.actors import Actor
from core.api.inputs import StrictInputSerializer
from core.api.pagination import CursorPagination
from partners.api.filters import IdFilter
from partners.api.scoping import PartnerScopedViewSet
from partners.api.views import field_error, problems
from partners.models import Client

# --- serializers -----------------------------------------------------------------------------


class SubscriptionSerializer(serializers.ModelSerializer):
    client = serializers.IntegerField(source="client_id", help_text="The client's id.")
    price_plan = serializers.CharField(source="price_plan.code", help_text="The plan's code.")
    quantity = serializers.IntegerField(help_text="Seats now: the latest change's quantity.")
    ended_on = serializers.DateField(allow_null=True, help_text="The last day billed.")

    class Meta:
        model = Subscription
        fields = ["id", "client", "price_plan", "quantity", "started_on", "ended_on", "created_at"]
        read_only_fields = fields


class QuantityChangeSerializer(serializers.ModelSerializer):
    class Meta:
        model = SeatQuantityChange
        fields = ["quantity", "effective_on", "created_at"]
        read_only_fields = fields


class SubscriptionCreateSerializer(StrictInputSerializer):
    read_only_names = frozenset(SubscriptionSerializer.Meta.fields)
    client = serializers.IntegerField(help_text="The client's id.")
    price_plan = serializers.CharField(help_text="The plan's code; in the partner's currency.")
    quantity = serializers.IntegerField(help_text="Seats from `started_on`.")
    started_on = serializers.DateField(help_text="Not before the client started.")
    ended_on = serializers.DateField(required=False, allow_null=True)


class QuantityChangeCreateSerializer(StrictInputSerializer):
    read_only_names = frozenset({"created_at"})
    quantity = serializers.IntegerField(help_text="Seats from `effective_on` on.")
    effective_on = serializers.DateField(help_text="Within the subscription's dates.")


class SubscriptionFilter(django_filters.FilterSet):
    client = IdFilter(field_name="client_id", help_text="The client's id.")
    partner = IdFilter(field_name="client__partner_id", help_text="The partner's id.")

    class Meta:
        model = Subscription
        fields = ["client", "partner"]


class IdOrderPagination(CursorPagination):
    ordering = "id"


class EffectiveOrderPagination(CursorPagination):
    ordering = "effective_on"  # one change per day: a unique order within a subscription


# --- views -----------------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(
        summary="List subscriptions (a partner key: its clients')",
        responses={200: SubscriptionSerializer(many=True), **problems("filter")},
    ),
    retrieve=extend_schema(
        summary="Get a subscription", responses={200: SubscriptionSerializer, **problems(404)}
    ),
)
class SubscriptionViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, PartnerScopedViewSet):
    partner_field = "client__partner_id"
    serializer_class = SubscriptionSerializer
    filterset_class = SubscriptionFilter
    pagination_class = IdOrderPagination

    def base_queryset(self):
        return Subscription.objects.select_related("price_plan")

    @extend_schema(
        summary="Subscribe a client to a price plan",
        description=(
            "The client must not have churned, and the subscription cannot start before it; the "
            "plan must be in the partner's billing currency; a client has no two overlapping "
            "subscriptions on one plan. Partner keys subscribe their own clients only. The "
            "initial `quantity` is the first quantity change, at `started_on`."
        ),
        request=SubscriptionCreateSerializer,
        responses={201: SubscriptionSerializer, **problems(400, 403)},
    )
    def create(self, request):
        incoming = SubscriptionCreateSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        data: dict[str, Any] = dict(incoming.validated_data)
        client = self._client(data.pop("client"))
        plan = PricePlan.objects.filter(code=data.pop("price_plan")).first()
        if plan is None:
            raise field_error("price_plan", "There is no price plan with that code.", "not_found")
        with service_errors():
            subscription = subscription_create(
                client=client, price_plan=plan, actor=Actor.from_request(request), **data
            )
        subscription = self.base_queryset().get(pk=subscription.pk)
        return Response(SubscriptionSerializer(subscription).data, status=status.HTTP_201_CREATED)

    def _client(self, client_id: int) -> Client:
        clients = Client.objects.filter(pk=client_id)
        partner_id = self.caller_partner_id()
        if partner_id is not None:
            clients = clients.filter(partner_id=partner_id)
        client = clients.first()
        if client is None:
            # The same answer for another partner's client as for no client: nothing leaks.
            raise field_error("client", f"There is no client with id {client_id}.", "not_found")
        return client

    @extend_schema(
        methods=["GET"],
        summary="List a subscription's seat quantity changes (by effective date)",
        operation_id="subscriptions_quantity_changes_list",
        parameters=[
            OpenApiParameter("cursor", OpenApiTypes.STR, description="The pagination cursor."),
            OpenApiParameter("limit", OpenApiTypes.INT, description="Results per page, ≤ 500."),
        ],
        request=None,
        responses={200: QuantityChangeSerializer(many=True), **problems(404)},
    )
    @extend_schema(
        methods=["POST"],
        summary="Change the seat quantity from a date",
        description=(
            "`effective_on` lies within the subscription's dates. A day has one quantity: a "
            "change on a day that already has one replaces it (201 either way)."
        ),
        request=QuantityChangeCreateSerializer,
        responses={201: QuantityChangeSerializer, **problems(400, 403, 404)},
    )
    @action(
        detail=True,
        methods=["get", "post"],
        url_path="quantity-changes",
        pagination_class=EffectiveOrderPagination,
        filterset_class=None,
    )
    def quantity_changes(self, request, pk=None):
        subscription = self.get_object()
        if request.method == "GET":
            changes = SeatQuantityChange.objects.filter(subscription=subscription)
            page = self.paginate_queryset(changes)
            return self.get_paginated_response(QuantityChangeSerializer(page, many=True).data)
        incoming = QuantityChangeCreateSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        with service_errors():
            change = subscription_change_quantity(
                subscription=subscription,
                actor=Actor.from_request(request),
                **incoming.validated_data,
            )
        change.refresh_from_db()
        return Response(QuantityChangeSerializer(change).data, status=status.HTTP_201_CREATED)
