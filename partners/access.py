"""The portal's one gate: every portal view is wrapped in `portal_view(capability)`.

It resolves the signed-in user's partner (request.partner, request.membership), answers 403 to
users without a partner or whose role lacks the capability, and keeps a suspended or terminated
partner's portal read-only (any non-GET is refused). Views then scope every query by
request.partner; objects of other partners are 404 (`get_object_or_404(Model, pk=…,
partner=request.partner)`).
"""

from __future__ import annotations

from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied

from .models import PartnerMembership
from .permissions import Capability, role_can

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


class ReadOnlyPartner(PermissionDenied):
    """The partner is suspended or terminated: its portal can be read, not changed."""


def resolve_membership(user) -> PartnerMembership | None:
    if not user.is_authenticated:
        return None
    try:
        return PartnerMembership.objects.select_related(
            "partner", "partner__track", "partner__tier"
        ).get(user=user)
    except PartnerMembership.DoesNotExist:
        return None


def portal_view(capability: Capability = Capability.VIEW):
    def decorator(view):
        @login_required
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            membership = resolve_membership(request.user)
            if membership is None:
                raise PermissionDenied("This page is for partner users.")
            if not role_can(membership.role, capability):
                raise PermissionDenied("Your role does not allow this.")
            partner = membership.partner
            if request.method not in SAFE_METHODS and partner.is_read_only:
                status = partner.get_status_display().lower()
                raise ReadOnlyPartner(f"{partner.name} is {status}: the portal is read-only.")
            request.membership = membership
            request.partner = membership.partner
            return view(request, *args, **kwargs)

        wrapped.portal_capability = capability
        return wrapped

    return decorator
