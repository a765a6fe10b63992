"""/api/v1/partners/, clients/, tracks/ and tiers/ — thin views over the partners services.

Every view is a `PartnerScopedViewSet`: a vendor key sees the whole tenant, a partner key only
its own partner (other partners' objects answer 404 and never appear in lists). Input is checked
for shape by the serializers; the services decide everything else, and their `PartnerError`
becomes a 400 problem+json naming the field.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping

from django.db import transaction
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import exceptions, mixins, status
from rest_framework.exceptions import ErrorDetail
from rest_framework.response import Response

from core.actors import Actor
from core.api.pagination import CursorPagination
from partners.errors import PartnerError
from partners.models import Client, Partner, Tier, Track
from partners.services.clients import client_change_status, client_create, client_update
from partners.services.onboarding import onboarding_refresh
from partners.services.partners import partner_change_status, partner_create, partner_update

from .filters import ClientFilter, PartnerFilter, TierFilter
from .scoping import PartnerScopedViewSet
from .serializers import (
    ClientCreateSerializer,
    ClientSerializer,
    ClientUpdateSerializer,
    PartnerCreateSerializer,
    PartnerSerializer,
    PartnerUpdateSerializer,
    ProblemSerializer,
    TierSerializer,
    TrackSerializer,
)

_PROBLEM_MEANINGS = {
    400: "Invalid input: `errors` lists each field's problem; nothing was saved.",
    "filter": "A filter's value is invalid: `errors` names the parameter.",
    403: "Not allowed for this key; nothing was saved.",
    404: "No such object, or one outside the key's partner.",
    409: "Not possible in the object's current state; `detail` says why. Nothing changed.",
}


def problems(*codes: int | str) -> dict:
    """The problem+json answers of an operation, for the OpenAPI schema ("filter": a 400 of
    a list's query string)."""
    return {
        (400 if code == "filter" else code, "application/problem+json"): OpenApiResponse(
            ProblemSerializer, description=_PROBLEM_MEANINGS[code]
        )
        for code in codes
    }


def field_error(field: str, message: str, code: str = "invalid") -> exceptions.ValidationError:
    return exceptions.ValidationError({field: [ErrorDetail(message, code=code)]})


@contextlib.contextmanager
def service_errors(field_names: Mapping[str, str] | None = None) -> Iterator[None]:
    """A service's PartnerError → 400 with the field it names (renamed to the API's name)."""
    try:
        yield
    except PartnerError as exc:
        field = exc.field or "non_field_errors"
        raise field_error((field_names or {}).get(field, field), str(exc)) from exc


class ProgramOrderPagination(CursorPagination):
    """Tracks and tiers in the order they were set up (oldest first)."""

    ordering = "id"


@extend_schema_view(
    list=extend_schema(
        summary="List partners (a partner key: just its own)",
        responses={200: PartnerSerializer(many=True), **problems("filter")},
    ),
    retrieve=extend_schema(
        summary="Get a partner", responses={200: PartnerSerializer, **problems(404)}
    ),
)
class PartnerViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, PartnerScopedViewSet):
    partner_field = "id"
    serializer_class = PartnerSerializer
    filterset_class = PartnerFilter

    def base_queryset(self):
        return Partner.objects.select_related("track", "tier")

    @extend_schema(
        summary="Create a partner (vendor keys only)",
        request=PartnerCreateSerializer,
        responses={201: PartnerSerializer, **problems(400, 403)},
    )
    def create(self, request):
        if self.caller_partner_id() is not None:
            raise exceptions.PermissionDenied("Partner keys cannot create partners.")
        incoming = PartnerCreateSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        actor = Actor.from_request(request)
        with service_errors(), transaction.atomic():
            partner = partner_create(actor=actor, **incoming.validated_data)
            # A complete billing profile is an onboarding step already done.
            onboarding_refresh(partner=partner, actor=actor)
        partner = self.base_queryset().get(pk=partner.pk)
        return Response(PartnerSerializer(partner).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Change a partner",
        description=(
            "Vendor keys change the profile, and the lifecycle status with `status` (plus "
            "`status_reason`, required to suspend or terminate, and `status_effective_on`). "
            "A partner key may change its own billing contact only: "
            + ", ".join(f"`{name}`" for name in sorted(PartnerUpdateSerializer.PARTNER_KEY_FIELDS))
            + "; any other field answers 403."
        ),
        request=PartnerUpdateSerializer,
        responses={200: PartnerSerializer, **problems(400, 403, 404)},
    )
    def partial_update(self, request, pk=None):
        partner = self.get_object()
        if self.caller_partner_id() is not None and isinstance(request.data, Mapping):
            writable = set(PartnerUpdateSerializer().fields)
            refused = (set(request.data) & writable) - PartnerUpdateSerializer.PARTNER_KEY_FIELDS
            if refused:
                allowed = ", ".join(sorted(PartnerUpdateSerializer.PARTNER_KEY_FIELDS))
                raise exceptions.PermissionDenied(
                    f"Partner keys may change only {allowed}; not {', '.join(sorted(refused))}."
                )
        incoming = PartnerUpdateSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        changes = dict(incoming.validated_data)
        to_status = changes.pop("status", None)
        reason = changes.pop("status_reason", "")
        effective_on = changes.pop("status_effective_on", None)
        actor = Actor.from_request(request)
        renamed = {"reason": "status_reason", "effective_on": "status_effective_on"}
        # Profile and status change together or not at all.
        with service_errors(renamed), transaction.atomic():
            if changes:
                partner_update(partner=partner, actor=actor, **changes)
            if to_status is not None and to_status != partner.status:
                partner_change_status(
                    partner=partner,
                    to_status=to_status,
                    reason=reason,
                    effective_on=effective_on,
                    actor=actor,
                )
            onboarding_refresh(partner=partner, actor=actor)
        partner = self.base_queryset().get(pk=partner.pk)
        return Response(PartnerSerializer(partner).data)


@extend_schema_view(
    list=extend_schema(
        summary="List clients (a partner key: its own)",
        responses={200: ClientSerializer(many=True), **problems("filter")},
    ),
    retrieve=extend_schema(
        summary="Get a client", responses={200: ClientSerializer, **problems(404)}
    ),
)
class ClientViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, PartnerScopedViewSet):
    partner_field = "partner_id"
    serializer_class = ClientSerializer
    filterset_class = ClientFilter

    def base_queryset(self):
        return Client.objects.all()

    @extend_schema(
        summary="Create a client",
        description=(
            "Vendor keys give `partner`; a partner key's clients belong to its own partner "
            "(naming another partner answers 400). A churned client needs `ended_on`."
        ),
        request=ClientCreateSerializer,
        responses={201: ClientSerializer, **problems(400, 403)},
    )
    def create(self, request):
        incoming = ClientCreateSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        data = dict(incoming.validated_data)
        partner = self._partner_for_new_client(data.pop("partner", None))
        actor = Actor.from_request(request)
        with service_errors(), transaction.atomic():
            client = client_create(partner=partner, actor=actor, **data)
            # A first client completes the "provision the first client" onboarding step.
            onboarding_refresh(partner=partner, actor=actor)
        return Response(ClientSerializer(client).data, status=status.HTTP_201_CREATED)

    def _partner_for_new_client(self, partner_id: int | None) -> Partner:
        own = self.caller_partner()
        if own is not None:
            # The same answer whether or not that other partner exists: nothing leaks.
            if partner_id is not None and partner_id != own.pk:
                raise field_error("partner", "A partner key adds clients to its own partner only.")
            return own
        if partner_id is None:
            raise field_error("partner", "Vendor keys name the client's partner.", "required")
        partner = Partner.objects.filter(pk=partner_id).first()
        if partner is None:
            raise field_error("partner", f"There is no partner with id {partner_id}.", "not_found")
        return partner

    @extend_schema(
        summary="Change a client",
        description=(
            "Profile fields, and the status: `status` changes go through the client's "
            "lifecycle; churning needs `ended_on` and is final. Clients cannot move to "
            "another partner."
        ),
        request=ClientUpdateSerializer,
        responses={200: ClientSerializer, **problems(400, 403, 404)},
    )
    def partial_update(self, request, pk=None):
        client = self.get_object()
        incoming = ClientUpdateSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        changes = dict(incoming.validated_data)
        partner_id = changes.pop("partner", None)
        if partner_id is not None and partner_id != client.partner_id:
            raise field_error("partner", "A client cannot move to another partner.")
        to_status = changes.pop("status", None)
        ended_on = changes.pop("ended_on", None)
        if to_status == client.status and ended_on is not None and ended_on != client.ended_on:
            raise field_error("ended_on", "The end date is set when the client churns.")
        actor = Actor.from_request(request)
        with service_errors(), transaction.atomic():
            if changes:
                client = client_update(client=client, actor=actor, **changes)
            if to_status is not None and to_status != client.status:
                client = client_change_status(
                    client=client, to_status=to_status, ended_on=ended_on, actor=actor
                )
        client.refresh_from_db()
        return Response(ClientSerializer(client).data)


@extend_schema_view(
    list=extend_schema(
        summary="List the program's tracks",
        responses={200: TrackSerializer(many=True)},
    ),
    retrieve=extend_schema(
        summary="Get a track", responses={200: TrackSerializer, **problems(404)}
    ),
)
class TrackViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, PartnerScopedViewSet):
    partner_field = None  # program data: every caller sees the whole program
    serializer_class = TrackSerializer
    pagination_class = ProgramOrderPagination

    def base_queryset(self):
        return Track.objects.select_related("program")


@extend_schema_view(
    list=extend_schema(
        summary="List tiers with their requirements and benefits",
        responses={200: TierSerializer(many=True)},
    ),
    retrieve=extend_schema(summary="Get a tier", responses={200: TierSerializer, **problems(404)}),
)
class TierViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, PartnerScopedViewSet):
    partner_field = None  # program data: every caller sees the whole program
    serializer_class = TierSerializer
    filterset_class = TierFilter
    pagination_class = ProgramOrderPagination

    def base_queryset(self):
        return Tier.objects.select_related("track")
