"""/api/v1/meters/ and price-plans/ — thin views over the catalog services.

The catalog is the vendor's price list: every key may read it (a partner's integration needs the
meter codes to report usage and the prices to check its invoices), only vendor keys change it
(partner keys: 403, nothing saved). Objects are named by their `code`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import exceptions, mixins, status
from rest_framework.decorators import action
from rest_framework.response import Response

from billing.errors import BillingError
from billing.models import Meter
from billing.selectors import charges_prefetch, price_plans_with_versions
from billing.services.catalog import (
    CODE_PATTERN,
    first_of_month,
    meter_create,
    price_plan_create,
    price_plan_revise,
)
from core.actors import Actor
from core.api.pagination import CursorPagination
from core.api.views import ApiViewSet
from partners.api.views import field_error, problems
from partners.services.partners import today_for_vendor

from .serializers import (
    MeterCreateSerializer,
    MeterSerializer,
    PricePlanCreateSerializer,
    PricePlanReviseSerializer,
    PricePlanSerializer,
    PricePlanVersionSerializer,
)

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
CODE_REGEX = CODE_PATTERN.pattern.strip("^$")


@contextlib.contextmanager
def service_errors() -> Iterator[None]:
    """A service's BillingError → 400 naming its field path (already in the API's terms)."""
    try:
        yield
    except BillingError as exc:
        raise field_error(exc.field or "non_field_errors", str(exc)) from exc


class CodeOrderPagination(CursorPagination):
    ordering = "code"


class CatalogViewSet(ApiViewSet):
    """Readable by every key of the vendor; writable by vendor keys only."""

    lookup_field = "code"
    lookup_value_regex = CODE_REGEX
    pagination_class = CodeOrderPagination

    def scope_queryset(self, queryset: QuerySet) -> QuerySet:
        return queryset  # the vendor's price list: the same for every caller

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        if request.method not in SAFE_METHODS and self.caller_partner_id() is not None:
            raise exceptions.PermissionDenied(
                "The catalog is the vendor's: partner keys can read it, not change it."
            )


@extend_schema_view(
    list=extend_schema(
        summary="List meters (every key)", responses={200: MeterSerializer(many=True)}
    ),
    retrieve=extend_schema(
        summary="Get a meter by code", responses={200: MeterSerializer, **problems(404)}
    ),
)
class MeterViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, CatalogViewSet):
    serializer_class = MeterSerializer

    def base_queryset(self):
        return Meter.objects.all()

    @extend_schema(
        summary="Create a meter (vendor keys only)",
        description="`unique_property` is required for, and only allowed on, unique_count meters.",
        request=MeterCreateSerializer,
        responses={201: MeterSerializer, **problems(400, 403)},
    )
    def create(self, request):
        incoming = MeterCreateSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        data = dict(incoming.validated_data)
        data["unique_property"] = data.get("unique_property") or ""
        with service_errors():
            meter = meter_create(actor=Actor.from_request(request), **data)
        return Response(MeterSerializer(meter).data, status=status.HTTP_201_CREATED)


_CHARGE_RULES = (
    "Each charge is on a meter (`meter`: its code) or on seats (`seats`: true), never both. "
    "By `model`: per_unit needs `unit_price`; graduated and volume need `tiers` in ascending "
    "`up_to` order with the last one's `up_to` null; package needs `package_size` (≥ 1) and "
    "`package_price`; flat needs `flat_fee`. Fields of other models must be left out. Seat "
    "charges need a `counting_rule`, meter charges have none; `pooled` is for graduated and "
    "volume charges. Unit prices have up to 6 decimals, fees and package prices at most the "
    "currency's. Errors name the field path, e.g. `charges[1].tiers[0].up_to`."
)


@extend_schema_view(
    list=extend_schema(
        summary="List price plans with their current charges (every key)",
        responses={200: PricePlanSerializer(many=True)},
    ),
    retrieve=extend_schema(
        summary="Get a price plan by code",
        responses={200: PricePlanSerializer, **problems(404)},
    ),
)
class PricePlanViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, CatalogViewSet):
    serializer_class = PricePlanSerializer

    def base_queryset(self):
        return price_plans_with_versions()

    def get_serializer_context(self):
        # The current version is the one pricing this month in the vendor's time zone.
        return {**super().get_serializer_context(), "month": first_of_month(today_for_vendor())}

    @extend_schema(
        summary="Create a price plan (vendor keys only)",
        description="Creates the plan and its version 1. " + _CHARGE_RULES,
        request=PricePlanCreateSerializer,
        responses={201: PricePlanSerializer, **problems(400, 403)},
    )
    def create(self, request):
        incoming = PricePlanCreateSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        with service_errors():
            plan = price_plan_create(actor=Actor.from_request(request), **incoming.validated_data)
        plan = self.base_queryset().get(pk=plan.pk)
        return Response(
            PricePlanSerializer(plan, context=self.get_serializer_context()).data,
            status=status.HTTP_201_CREATED,
        )

    @extend_schema(
        summary="New prices from a future month (vendor keys only)",
        description=(
            "Prices in use are never edited: this adds the plan's next version, effective from "
            "`effective_from` — a month that has not begun (next month at the earliest, in the "
            "vendor's time zone) and later than the latest version's. " + _CHARGE_RULES
        ),
        request=PricePlanReviseSerializer,
        responses={201: PricePlanVersionSerializer, **problems(400, 403, 404)},
    )
    @action(detail=True, methods=["post"], url_path="revise")
    def revise(self, request, code=None):
        plan = self.get_object()
        incoming = PricePlanReviseSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        with service_errors():
            version = price_plan_revise(
                plan=plan, actor=Actor.from_request(request), **incoming.validated_data
            )
        version = (
            type(version)
            .objects.select_related("plan")
            .prefetch_related(charges_prefetch())
            .get(pk=version.pk)
        )
        return Response(PricePlanVersionSerializer(version).data, status=status.HTTP_201_CREATED)
