"""Partner scoping for the API: the one base class for every partner-owned resource.

A vendor key sees the whole tenant. A partner key sees only rows whose `partner_field` is its
partner: everything else is filtered out of lists and answers 404 on detail routes. Writes by a
partner key are pinned to its own partner (`caller_partner()`), and refused with 403 while that
partner is suspended or terminated.
"""

from __future__ import annotations

from django.db.models import QuerySet
from rest_framework import exceptions

from core.api.views import ApiViewSet
from partners.models import Partner

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


class PartnerScopedViewSet(ApiViewSet):
    # The lookup from this view's model to the owning partner's id, e.g. "partner_id",
    # "client__partner_id" or "id" for Partner itself. None declares program data that is the
    # same for every caller (tracks, tiers): partner keys see all of it.
    partner_field: str | None = "partner_id"

    def scope_queryset(self, queryset: QuerySet) -> QuerySet:
        partner_id = self.caller_partner_id()
        if partner_id is None or self.partner_field is None:
            return queryset
        return queryset.filter(**{self.partner_field: partner_id})

    def caller_partner(self) -> Partner | None:
        partner_id = self.caller_partner_id()
        if partner_id is None:
            return None
        if not hasattr(self, "_caller_partner"):
            self._caller_partner = Partner.objects.get(pk=partner_id)
        return self._caller_partner

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        if request.method in SAFE_METHODS:
            return  # reads need no partner row: the scope filters by id
        partner = self.caller_partner()
        if partner is not None and partner.is_read_only:
            raise exceptions.PermissionDenied(
                f"{partner.name} is {partner.get_status_display().lower()}: read-only."
            )
