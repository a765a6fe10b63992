"""/api/v1/invoices/, invoices/{id}/pdf/ and credit-notes/ — thin views over the invoice
selectors and `billing.services.credit_notes`.

A vendor key sees every invoice, drafts included. A partner key sees only its own partner's
invoices, and only those of periods in review or finalized: drafts of a period still being rated
are never shown (other partners' invoices and such drafts answer 404 and never appear in lists).
Credit notes follow their invoice. Only vendor keys issue credit notes (partner keys: 403,
nothing saved).
"""

from __future__ import annotations

import datetime
import re

import django_filters
import orjson
from django import forms
from django.db.models import Prefetch, QuerySet
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import exceptions, mixins, renderers, status
from rest_framework.decorators import action
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.response import Response

from billing.api.views import service_errors
from billing.models import CreditNote, CreditNoteLine, Invoice, InvoiceLine
from billing.models_invoicing import InvoiceStatus
from billing.pdf import invoice_pdf, pdf_filename
from billing.selectors_invoices import invoice_document, partner_visible, with_credited
from billing.services.credit_notes import credit_note_create
from core.actors import Actor
from core.api.pagination import CursorPagination
from partners.api.filters import IdFilter
from partners.api.scoping import PartnerScopedViewSet
from partners.api.views import field_error, problems

from .serializers_invoices import (
    CreditNoteCreateSerializer,
    CreditNoteSerializer,
    InvoiceSerializer,
)

# --- filters ---------------------------------------------------------------------------------

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


class MonthFormField(forms.CharField):
    default_error_messages = {"invalid": 'Give the month as YYYY-MM, e.g. "2026-10".'}

    def to_python(self, value):
        value = super().to_python(value)
        if not value:
            return None
        match = _MONTH.match(value)
        if match is None or not 1 <= int(match[2]) <= 12:
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        return datetime.date(int(match[1]), int(match[2]), 1)


class MonthFilter(django_filters.Filter):
    field_class = MonthFormField


class InvoiceFilter(django_filters.FilterSet):
    partner = IdFilter(field_name="partner_id", help_text="The partner's id.")
    month = MonthFilter(field_name="period__month", help_text='The billed month, e.g. "2026-10".')
    status = django_filters.ChoiceFilter(choices=InvoiceStatus.choices)

    class Meta:
        model = Invoice
        fields = ["partner", "month", "status"]


class CreditNoteFilter(django_filters.FilterSet):
    invoice = IdFilter(field_name="invoice_id", help_text="The invoice's id.")
    partner = IdFilter(field_name="invoice__partner_id", help_text="The partner's id.")

    class Meta:
        model = CreditNote
        fields = ["invoice", "partner"]


class PdfRenderer(renderers.BaseRenderer):
    """The PDF route's one renderer; its errors are problem+json (their Response sets the
    content type), serialised here."""

    media_type = "application/pdf"
    format = "pdf"
    charset = None

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if isinstance(data, bytes):
            return data
        return orjson.dumps(data)


class PdfNegotiation(BaseContentNegotiation):
    """The PDF route answers a PDF (or a problem+json error) whatever the Accept header says."""

    def select_parser(self, request, parsers):
        return parsers[0] if parsers else None

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


# --- views -----------------------------------------------------------------------------------


def _lines_prefetch() -> Prefetch:
    return Prefetch(
        "lines",
        queryset=InvoiceLine.objects.select_related("client", "meter").order_by("position"),
    )


@extend_schema_view(
    list=extend_schema(
        summary="List invoices (a partner key: its own, once rated)",
        description=(
            "Newest first by id. A partner key sees its own partner's invoices of periods in "
            "review (drafts, `number` null) or finalized; a vendor key sees every invoice, "
            "including drafts of periods being rated."
        ),
        responses={200: InvoiceSerializer(many=True), **problems("filter")},
    ),
    retrieve=extend_schema(
        summary="Get an invoice with its lines",
        responses={200: InvoiceSerializer, **problems(404)},
    ),
)
class InvoiceViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, PartnerScopedViewSet):
    partner_field = "partner_id"
    serializer_class = InvoiceSerializer
    filterset_class = InvoiceFilter
    pagination_class = CursorPagination  # newest first

    def base_queryset(self) -> QuerySet[Invoice]:
        return with_credited(
            Invoice.objects.select_related("period").prefetch_related(_lines_prefetch())
        )

    def scope_queryset(self, queryset: QuerySet) -> QuerySet:
        queryset = super().scope_queryset(queryset)
        if self.caller_partner_id() is not None:
            queryset = partner_visible(queryset)
        return queryset

    @extend_schema(
        summary="Get an invoice as a PDF",
        description="The invoice document (A4); a draft is marked DRAFT and has no number.",
        responses={
            (200, "application/pdf"): OpenApiResponse(
                OpenApiTypes.BINARY, description="The invoice as a PDF document."
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
        invoice = self.get_object()
        document = invoice_document(invoice)
        content = invoice_pdf(document, vendor_name=getattr(request.tenant, "name", ""))
        response = HttpResponse(content, content_type="application/pdf")
        response["Content-Disposition"] = f'inline; filename="{pdf_filename(invoice)}"'
        return response


@extend_schema_view(
    list=extend_schema(
        summary="List credit notes (a partner key: its own invoices')",
        responses={200: CreditNoteSerializer(many=True), **problems("filter")},
    ),
    retrieve=extend_schema(
        summary="Get a credit note", responses={200: CreditNoteSerializer, **problems(404)}
    ),
)
class CreditNoteViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, PartnerScopedViewSet):
    partner_field = "invoice__partner_id"
    serializer_class = CreditNoteSerializer
    filterset_class = CreditNoteFilter
    pagination_class = CursorPagination  # newest first

    def base_queryset(self) -> QuerySet[CreditNote]:
        return CreditNote.objects.select_related("invoice").prefetch_related(
            Prefetch("lines", queryset=CreditNoteLine.objects.order_by("id"))
        )

    @extend_schema(
        summary="Credit a finalized invoice (vendor keys only)",
        description=(
            "Credits chosen `lines` of an open or paid invoice (each at most what is left of "
            "that line's net amount after earlier credit notes) or an `amount` of the whole "
            "invoice (before tax) — exactly one of the two. Tax is round(subtotal × the "
            "invoice's tax rate), never more than the tax left; all credit notes of an invoice "
            "together never credit more than its total. Numbers are gapless (CN-000001 …)."
        ),
        request=CreditNoteCreateSerializer,
        responses={201: CreditNoteSerializer, **problems(400, 403)},
    )
    def create(self, request):
        if self.caller_partner_id() is not None:
            raise exceptions.PermissionDenied(
                "Credit notes are issued by the vendor: partner keys can read them, not create "
                "them."
            )
        incoming = CreditNoteCreateSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        data = dict(incoming.validated_data)
        invoice = Invoice.objects.filter(pk=data.pop("invoice")).first()
        if invoice is None:
            raise field_error("invoice", "There is no invoice with that id.", "not_found")
        with service_errors():
            note = credit_note_create(
                invoice=invoice,
                reason=data["reason"],
                lines=data.get("lines"),
                amount=data.get("amount"),
                actor=Actor.from_request(request),
            )
        note = self.base_queryset().get(pk=note.pk)
        return Response(CreditNoteSerializer(note).data, status=status.HTTP_201_CREATED)
