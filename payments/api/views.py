"""/api/v1/payments/ — every attempt to collect an invoice (Stripe charges, dunning retries,
payments recorded by hand). A partner key sees only its own partner's payments (others: 404,
never listed); only vendor keys record a manual payment (POST; partner keys: 403)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import django_filters
from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import exceptions, mixins, status
from rest_framework.response import Response

from billing.models import Invoice
from core.actors import Actor
from core.api.pagination import CursorPagination
from partners.api.filters import IdFilter
from partners.api.scoping import PartnerScopedViewSet
from partners.api.views import field_error, problems

from ..enums import PaymentKind, PaymentStatus
from ..errors import PaymentError
from ..models import Payment
from ..services.manual import payment_record_manual
from .serializers import ManualPaymentSerializer, PaymentSerializer


class PaymentFilter(django_filters.FilterSet):
    partner = IdFilter(field_name="partner_id", help_text="The partner's id.")
    invoice = IdFilter(field_name="invoice_id", help_text="The invoice's id.")
    status = django_filters.ChoiceFilter(choices=PaymentStatus.choices)
    kind = django_filters.ChoiceFilter(choices=PaymentKind.choices)

    class Meta:
        model = Payment
        fields = ["partner", "invoice", "status", "kind"]


@contextlib.contextmanager
def payment_errors() -> Iterator[None]:
    try:
        yield
    except PaymentError as exc:
        raise field_error(exc.field or "non_field_errors", str(exc)) from exc


@extend_schema_view(
    list=extend_schema(
        summary="List payments (a partner key: its own)",
        description="Newest first: Stripe charge attempts (with their outcome) and payments "
        "recorded by hand.",
        responses={200: PaymentSerializer(many=True), **problems("filter")},
    ),
    retrieve=extend_schema(
        summary="Get a payment", responses={200: PaymentSerializer, **problems(404)}
    ),
)
class PaymentViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, PartnerScopedViewSet):
    partner_field = "partner_id"
    serializer_class = PaymentSerializer
    filterset_class = PaymentFilter
    pagination_class = CursorPagination  # newest first

    def base_queryset(self) -> QuerySet[Payment]:
        return Payment.objects.select_related("invoice")

    @extend_schema(
        summary="Record a payment received by bank transfer (vendor keys only)",
        description=(
            "Records `amount` received on `received_on` with the bank `reference` for an open, "
            "payment-failed or uncollectible invoice. Partial payments are allowed, each at most "
            "the outstanding amount; the invoice becomes paid when they add up to its total. "
            "Refused while a Stripe charge of the invoice is in progress."
        ),
        request=ManualPaymentSerializer,
        responses={201: PaymentSerializer, **problems(400, 403)},
    )
    def create(self, request):
        if self.caller_partner_id() is not None:
            raise exceptions.PermissionDenied(
                "Payments are recorded by the vendor: partner keys can read them, not create them."
            )
        incoming = ManualPaymentSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        data = incoming.validated_data
        invoice = Invoice.objects.filter(pk=data["invoice"]).exclude(number=None).first()
        if invoice is None:
            raise field_error("invoice", "There is no finalized invoice with that id.", "not_found")
        with payment_errors():
            payment = payment_record_manual(
                invoice=invoice,
                amount=data["amount"],
                received_on=data["received_on"],
                reference=data["reference"],
                actor=Actor.from_request(request),
            )
        payment = self.base_queryset().get(pk=payment.pk)
        return Response(PaymentSerializer(payment).data, status=status.HTTP_201_CREATED)
