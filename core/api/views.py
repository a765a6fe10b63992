"""Base classes for every API view.

Querysets come from `base_queryset()`, and every request's queryset passes through
`scope_queryset()`; `get_queryset` itself is final, so a view cannot forget the scoping by
overriding it (the partners app adds partner scoping there: objects outside scope are 404).
"""

from __future__ import annotations

from django.db.models import QuerySet
from rest_framework import viewsets


class _FinalGetQueryset(type(viewsets.GenericViewSet)):
    def __new__(mcs, name, bases, attrs):
        if "get_queryset" in attrs and attrs.get("__module__") != __name__:
            raise TypeError(
                f"{name} overrides get_queryset; implement base_queryset() instead so that "
                "scope_queryset() always applies."
            )
        return super().__new__(mcs, name, bases, attrs)


class ScopedViewSetMixin:
    def base_queryset(self) -> QuerySet:
        raise NotImplementedError

    def scope_queryset(self, queryset: QuerySet) -> QuerySet:
        """Vendor keys see the whole tenant; partner keys see nothing until a view says how."""
        if self.caller_partner_id() is not None:
            return queryset.none()
        return queryset

    def caller_partner_id(self) -> int | None:
        # The authenticated principal carries the partner scope of its key (None: whole vendor).
        return getattr(getattr(self.request, "user", None), "partner_id", None)

    def get_queryset(self):
        return self.scope_queryset(self.base_queryset())


class ApiViewSet(ScopedViewSetMixin, viewsets.GenericViewSet, metaclass=_FinalGetQueryset):
    """Base for every resource under /api/v1/."""
