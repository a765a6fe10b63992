"""/api/v1/billing-periods/ — the month-end close over the API.

Every key may read the periods (a partner's integration waits for review to fetch its draft
invoice); only vendor keys close and finalize (partner keys: 403, nothing changes). A period is
named by its month, "2026-10".
"""

from __future__ import annotations

import datetime

from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import exceptions, mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response

from billing.errors import PeriodStateError
from billing.models import BillingPeriod
from billing.services.periods import period_close, period_finalize, period_progress
from core.actors import Actor
from core.api.exceptions import Conflict
from core.api.pagination import CursorPagination
from core.api.views import ApiViewSet
from partners.api.views import problems

MONTH_REGEX = r"\d{4}-\d{2}"


class BillingPeriodSerializer(serializers.ModelSerializer):
    month = serializers.SerializerMethodField()
    progress = serializers.SerializerMethodField()

    class Meta:
        model = BillingPeriod
        fields = [
            "month",
            "status",
            "progress",
            "starts_at",
            "ends_at",
            "needs_rerating",
            "rated_at",
            "finalized_at",
        ]

    def get_month(self, period: BillingPeriod) -> str:
        return f"{period.month:%Y-%m}"

    def get_progress(self, period: BillingPeriod) -> int:
        return period_progress(period)


class MonthPagination(CursorPagination):
    ordering = "-month"


def parse_month(text: str) -> datetime.date:
    try:
        year, month = (int(part) for part in text.split("-"))
        return datetime.date(year, month, 1)
    except ValueError as exc:
        raise Http404("No such month.") from exc


MONTH_PARAMETER = OpenApiParameter(
    "month", str, OpenApiParameter.PATH, description='The month, e.g. "2026-10".'
)


@extend_schema_view(
    list=extend_schema(
        summary="List billing periods, newest first (every key)",
        responses={200: BillingPeriodSerializer(many=True)},
    ),
    retrieve=extend_schema(
        summary="Get a billing period",
        parameters=[MONTH_PARAMETER],
        responses={200: BillingPeriodSerializer, **problems(404)},
    ),
)
class BillingPeriodViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ApiViewSet):
    serializer_class = BillingPeriodSerializer
    pagination_class = MonthPagination
    lookup_field = "month"
    lookup_value_regex = MONTH_REGEX

    def base_queryset(self):
        return BillingPeriod.objects.all()

    def scope_queryset(self, queryset):
        return queryset  # periods are the vendor's calendar: the same for every caller

    def get_object(self):
        month = parse_month(self.kwargs["month"])
        period = self.get_queryset().filter(month=month).first()
        if period is None:
            raise Http404("No billing period for that month.")
        return period

    def _vendor_only(self) -> None:
        if self.caller_partner_id() is not None:
            raise exceptions.PermissionDenied(
                "Closing and finalizing periods is the vendor's: partner keys can only read them."
            )

    @extend_schema(
        summary="Close a month: start rating (or re-rating, while in review) (vendor keys only)",
        description=(
            "Answers 202 at once with the period in `rating`; the partners are rated on the "
            "workers in chunks and `progress` climbs to 100, then the period is in `review` with "
            "draft invoices. From `review` this re-rates (drafts are replaced deterministically); "
            "from `rating` it restarts an interrupted run. 409 for a finalized period or a month "
            "that has not ended yet in the vendor's timezone."
        ),
        request=None,
        parameters=[MONTH_PARAMETER],
        responses={202: BillingPeriodSerializer, **problems(403, 404, 409)},
    )
    @action(detail=True, methods=["post"], url_path="close")
    def close(self, request, month=None):
        self._vendor_only()
        try:
            period = period_close(month=parse_month(month), actor=Actor.from_request(request))
        except PeriodStateError as exc:
            raise Conflict(str(exc)) from exc
        period.refresh_from_db()
        return Response(BillingPeriodSerializer(period).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(
        summary="Finalize a month in review (vendor keys only)",
        description=(
            "Issues gapless invoice numbers, freezes the invoices and records each partner's "
            "MRR. 409 unless the period is in `review` (and, when usage arrived after rating, "
            "until it has been re-rated)."
        ),
        request=None,
        parameters=[MONTH_PARAMETER],
        responses={200: BillingPeriodSerializer, **problems(403, 404, 409)},
    )
    @action(detail=True, methods=["post"], url_path="finalize")
    def finalize(self, request, month=None):
        self._vendor_only()
        self.get_object()  # 404 for a month never closed
        try:
            period = period_finalize(month=parse_month(month), actor=Actor.from_request(request))
        except PeriodStateError as exc:
            raise Conflict(str(exc)) from exc
        return Response(BillingPeriodSerializer(period).data)
