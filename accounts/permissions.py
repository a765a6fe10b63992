"""Who may open which console page."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied


def vendor_admin_required(view: Callable) -> Callable:
    """Signed-in vendor admins only: anonymous users go to the login page, others get 403."""

    @wraps(view)
    @login_required
    def wrapped(request, *args, **kwargs):
        if not request.user.has_vendor_role():  # no roles given: admins only
            raise PermissionDenied("Only vendor admins can open this page.")
        return view(request, *args, **kwargs)

    return wrapped
