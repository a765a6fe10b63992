"""/api/v1/margin/ and /api/v1/resale-prices/ — thin views over the reporting selectors and
services.

Scoping fails closed through `PartnerScopedViewSet`: the margin resource reads its partner from
the scoped partner queryset (a partner key: only its own; a vendor key: any, named with
`?partner=`); resale prices are scoped by `partner_id`, so another partner's price answers 404
and never appears in a list. Resale prices are the MSP's own business data: only partner keys
set them (vendor keys may read them, as they may read the margin, e.g. for a PSA integration
the vendor runs for its MSPs; the console shows neither).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import django_filters
from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import exceptions, mixins, serializers, status
from rest_framework.response import Response

from billing.api.serializers import MonthField
from billing.models import Product
from core.actors import Actor
from core.api.pagination import CursorPagination
from partners.api.filters import IdFilter
from partners.api.scoping import PartnerScopedViewSet
from partners.api.views import field_error, problems
from partners.models import Client, Partner
from reporting.errors import ReportingError
from reporting.models import ResalePrice
from reporting.selectors import billed_months, default_month, margin_report
from reporting.services.resale_prices import resale_price_set, resale_price_update

from .serializers import (
    MarginSchema,
    ResalePriceCreateSerializer,
    ResalePriceSerializer,
    ResalePriceUpdateSerializer,
    margin_data,
)


@contextlib.contextmanager
def service_errors() -> Iterator[None]:
    """A ReportingError → 400 naming its field."""
    try:
        yield
    except ReportingError as exc:
        raise field_error(exc.field or "non_field_errors", str(exc)) from exc


class MarginQuery(serializers.Serializer):
    month = MonthField(required=False)
    partner = serializers.IntegerField(required=False)


@extend_schema_view(
    list=extend_schema(
        summary="A partner's margin for a month, per client",
        description=(
            "Vendor cost (Σ net of the client's invoice lines for the month, prior-period "
            "adjustments included, minus credit notes issued in the month), resale revenue "
            "from the partner's resale prices, margin and margin % per client, the totals, and "
            "the twelve months up to `month`. Without `month`: the latest finalized month (or "
            "the latest draft in review). A partner key reads its own partner; a vendor key "
            "names the partner with `?partner=`. A month not billed to the partner answers 404."
        ),
        parameters=[
            OpenApiParameter(
                "month", OpenApiTypes.STR, description='The billed month, e.g. "2026-10".'
            ),
            OpenApiParameter(
                "partner",
                OpenApiTypes.INT,
                description="The partner's id: required with a vendor key.",
            ),
        ],
        responses={200: MarginSchema, **problems("filter", 404)},
    )
)
class MarginViewSet(PartnerScopedViewSet):
    partner_field = "id"
    serializer_class = MarginSchema
    pagination_class = None
    filter_backends: list = []

    def base_queryset(self) -> QuerySet[Partner]:
        return Partner.objects.all()

    def _partner(self, requested: int | None) -> Partner:
        own = self.caller_partner_id()
        if own is not None:
            # The same answer whether or not that other partner exists: nothing leaks.
            if requested is not None and requested != own:
                raise field_error("partner", "A partner key reads its own partner's margin only.")
            requested = own
        elif requested is None:
            raise field_error("partner", "Vendor keys name the partner: ?partner=<id>.", "required")
        partner = self.get_queryset().filter(pk=requested).first()
        if partner is None:
            raise field_error("partner", f"There is no partner with id {requested}.", "not_found")
        return partner

    def list(self, request):
        query = MarginQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        partner = self._partner(query.validated_data.get("partner"))
        months = billed_months(partner)
        month = query.validated_data.get("month")
        if month is None:
            chosen = default_month(months)
        else:
            chosen = next((m for m in months if m.month == month), None)
            if chosen is None:
                raise exceptions.NotFound(
                    f"{month:%Y-%m} has not been billed to this partner (no invoice in review or "
                    "finalized)."
                )
        report = margin_report(partner, chosen, months) if chosen is not None else None
        return Response(margin_data(report, partner_id=partner.pk, currency=partner.currency))


class ResalePriceFilter(django_filters.FilterSet):
    partner = IdFilter(field_name="partner_id", help_text="The partner's id.")
    client = IdFilter(field_name="client_id", help_text="The client's id.")
    product = django_filters.CharFilter(field_name="product__code", help_text="A product code.")

    class Meta:
        model = ResalePrice
        fields = ["partner", "client", "product"]


def _partner_keys_only(view: PartnerScopedViewSet) -> Partner:
    partner = view.caller_partner()
    if partner is None:
        raise exceptions.PermissionDenied(
            "Resale prices are the partner's own: its users and partner keys set them."
        )
    return partner


@extend_schema_view(
    list=extend_schema(
        summary="List resale prices (a partner key: its own)",
        description="Every row with its history, newest first by id.",
        responses={200: ResalePriceSerializer(many=True), **problems("filter")},
    ),
    retrieve=extend_schema(
        summary="Get a resale price", responses={200: ResalePriceSerializer, **problems(404)}
    ),
)
class ResalePriceViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, PartnerScopedViewSet):
    partner_field = "partner_id"
    serializer_class = ResalePriceSerializer
    filterset_class = ResalePriceFilter
    pagination_class = CursorPagination

    def base_queryset(self) -> QuerySet[ResalePrice]:
        return ResalePrice.objects.select_related("product")

    @extend_schema(
        summary="Set a resale price from a month (partner keys only)",
        description=(
            "The price of `product` for every client of the partner, or for one `client` (an "
            "override, which wins). `kind`: `fixed` (a monthly price per client, in "
            "`fixed_price`), `markup` (the vendor cost plus `markup_pct` percent) or, for an "
            "override only, `inherit` (the client follows the product's price again). It "
            "applies from `effective_from` until the next price of the same product and "
            "client; a price set again for the same month replaces that month's row (200) — "
            "otherwise a new row (201)."
        ),
        request=ResalePriceCreateSerializer,
        responses={
            201: ResalePriceSerializer,
            200: ResalePriceSerializer,
            **problems(400, 403),
        },
    )
    def create(self, request):
        partner = _partner_keys_only(self)
        incoming = ResalePriceCreateSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        data = incoming.validated_data
        if data.get("partner") not in (None, partner.pk):
            raise field_error("partner", "A partner key sets its own partner's prices only.")
        product = Product.objects.filter(code=data["product"]).first()
        if product is None:
            raise field_error(
                "product", f"There is no product with code {data['product']!r}.", "not_found"
            )
        client = None
        if data.get("client") is not None:
            client = Client.objects.filter(pk=data["client"], partner=partner).first()
            if client is None:
                raise field_error("client", "There is no such client.", "not_found")
        with service_errors():
            price, created = resale_price_set(
                partner=partner,
                product=product,
                client=client,
                effective_from=data["effective_from"],
                kind=data["kind"],
                fixed_price=data.get("fixed_price"),
                markup_pct=data.get("markup_pct"),
                actor=Actor.from_request(request),
            )
        price = self.base_queryset().get(pk=price.pk)
        return Response(
            ResalePriceSerializer(price).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )

    @extend_schema(
        summary="Change a resale price (partner keys only)",
        description=(
            "`kind`, `fixed_price` and `markup_pct` of one row; its product, client and month "
            "never change (set a price from another month instead)."
        ),
        request=ResalePriceUpdateSerializer,
        responses={200: ResalePriceSerializer, **problems(400, 403, 404)},
    )
    def partial_update(self, request, pk=None):
        price = self.get_object()
        _partner_keys_only(self)
        incoming = ResalePriceUpdateSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        data = incoming.validated_data
        if not data:
            raise field_error(
                "non_field_errors", "Nothing to change: give kind, fixed_price or markup_pct."
            )
        with service_errors():
            resale_price_update(
                price=price,
                kind=data.get("kind"),
                fixed_price=data.get("fixed_price"),
                markup_pct=data.get("markup_pct"),
                actor=Actor.from_request(request),
            )
        return Response(ResalePriceSerializer(self.base_queryset().get(pk=price.pk)).data)
