"""/api/v1/statements/ and payouts/ — thin views over incentives' selectors and services.

A vendor key sees every statement and payout; a partner key only its own partner's (others answer
404 and never appear in lists). Approving is for vendor keys (partner keys: 403, nothing
changed); disputing is for partner keys, on their own statements (vendor keys: 403)."""

from __future__ import annotations

import django_filters
from django.db.models import Prefetch, QuerySet
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import exceptions, mixins, status
from rest_framework.decorators import action
from rest_framework.response import Response

from billing.api.invoices import MonthFilter, PdfNegotiation, PdfRenderer
from core.actors import Actor
from core.api.exceptions import Conflict
from core.api.pagination import CursorPagination
from partners.api.filters import IdFilter
from partners.api.scoping import PartnerScopedViewSet
from partners.api.views import field_error, problems

from ..errors import DisputeError, StatementStateError
from ..models import (
    LedgerEntry,
    Payout,
    PayoutStatus,
    Statement,
    StatementDispute,
    StatementStatus,
)
from ..pdf import statement_pdf, statement_pdf_filename
from ..selectors import statement_document
from ..services.disputes import dispute_open
from ..services.statements import statement_approve
from .serializers_statements import (
    DisputeCreateSerializer,
    DisputeSerializer,
    PayoutSerializer,
    StatementSerializer,
)


class StatementFilter(django_filters.FilterSet):
    partner = IdFilter(field_name="partner_id", help_text="The partner's id.")
    month = MonthFilter(field_name="month", help_text='The statement month, e.g. "2026-10".')
    status = django_filters.ChoiceFilter(choices=StatementStatus.choices)

    class Meta:
        model = Statement
        fields = ["partner", "month", "status"]


class PayoutFilter(django_filters.FilterSet):
    partner = IdFilter(field_name="partner_id", help_text="The partner's id.")
    status = django_filters.ChoiceFilter(choices=PayoutStatus.choices)

    class Meta:
        model = Payout
        fields = ["partner", "status"]


@extend_schema_view(
    list=extend_schema(
        summary="List commission statements (a partner key: its own)",
        responses={200: StatementSerializer(many=True), **problems("filter")},
    ),
    retrieve=extend_schema(
        summary="Get a statement with its entries, disputes and payout",
        responses={200: StatementSerializer, **problems(404)},
    ),
)
class StatementViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, PartnerScopedViewSet):
    partner_field = "partner_id"
    serializer_class = StatementSerializer
    filterset_class = StatementFilter
    pagination_class = CursorPagination  # newest first

    def base_queryset(self) -> QuerySet[Statement]:
        return Statement.objects.select_related(
            "payout", "payout__credited_invoice"
        ).prefetch_related(
            Prefetch(
                "entries",
                queryset=LedgerEntry.objects.select_related("invoice").order_by("id"),
            ),
            Prefetch(
                "disputes",
                queryset=StatementDispute.objects.select_related("entry").order_by("id"),
            ),
        )

    @extend_schema(
        summary="Get a statement as a PDF",
        responses={
            (200, "application/pdf"): OpenApiResponse(
                OpenApiTypes.BINARY, description="The statement as a PDF document."
            ),
            **problems(404),
        },
    )
    @action(
        detail=True,
        methods=["get"],
        url_path="pdf",
        renderer_classes=[PdfRenderer],
        content_negotiation_class=PdfNegotiation,
        filterset_class=None,
        pagination_class=None,
    )
    def pdf(self, request, pk=None):
        statement = self.get_object()
        content = statement_pdf(
            statement_document(statement), vendor_name=getattr(request.tenant, "name", "")
        )
        response = HttpResponse(content, content_type="application/pdf")
        response["Content-Disposition"] = f'inline; filename="{statement_pdf_filename(statement)}"'
        return response

    @extend_schema(
        summary="Approve a draft statement (vendor keys only)",
        description=(
            "Freezes the figures; pays `payable` = balance − held when it reaches the commission "
            "plan's minimum payout (one payout per statement), else carries the balance forward. "
            "409 unless the statement is a draft and no earlier statement of the partner is."
        ),
        request=None,
        responses={200: StatementSerializer, **problems(403, 404, 409)},
    )
    @action(detail=True, methods=["post"], url_path="approve", filterset_class=None)
    def approve(self, request, pk=None):
        statement = self.get_object()
        if self.caller_partner_id() is not None:
            raise exceptions.PermissionDenied("Statements are approved by the vendor.")
        try:
            statement_approve(statement_id=statement.pk, actor=Actor.from_request(request))
        except StatementStateError as exc:
            raise Conflict(str(exc)) from exc
        return Response(StatementSerializer(self.base_queryset().get(pk=statement.pk)).data)

    @extend_schema(
        summary="Dispute one entry of the statement (partner keys only)",
        description=(
            "Holds the entry's amount (a positive one) out of what is paid until the vendor "
            "resolves the dispute. The statement must not be paid yet."
        ),
        request=DisputeCreateSerializer,
        responses={201: DisputeSerializer, **problems(400, 403, 404, 409)},
    )
    @action(detail=True, methods=["post"], url_path="disputes", filterset_class=None)
    def disputes(self, request, pk=None):
        statement = self.get_object()
        partner_id = self.caller_partner_id()
        if partner_id is None:
            raise exceptions.PermissionDenied("Disputes are opened by the partner.")
        incoming = DisputeCreateSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        try:
            dispute = dispute_open(
                statement_id=statement.pk,
                entry_id=incoming.validated_data["entry"],
                partner_id=partner_id,
                reason=incoming.validated_data["reason"],
                actor=Actor.from_request(request),
            )
        except LedgerEntry.DoesNotExist as exc:
            raise field_error("entry", "No such entry on this statement.", "not_found") from exc
        except DisputeError as exc:
            if exc.field:
                raise field_error(exc.field, str(exc)) from exc
            raise Conflict(str(exc)) from exc
        return Response(DisputeSerializer(dispute).data, status=status.HTTP_201_CREATED)


@extend_schema_view(
    list=extend_schema(
        summary="List payouts (a partner key: its own)",
        responses={200: PayoutSerializer(many=True), **problems("filter")},
    ),
    retrieve=extend_schema(
        summary="Get a payout", responses={200: PayoutSerializer, **problems(404)}
    ),
)
class PayoutViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, PartnerScopedViewSet):
    partner_field = "partner_id"
    serializer_class = PayoutSerializer
    filterset_class = PayoutFilter
    pagination_class = CursorPagination

    def base_queryset(self) -> QuerySet[Payout]:
        return Payout.objects.select_related("credited_invoice")
