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


def console_user_required(view: Callable) -> Callable:
    """Signed-in vendor staff of any role; partner users get 403."""

    @wraps(view)
    @login_required
    def wrapped(request, *args, **kwargs):
        if not request.user.is_console_user:
            raise PermissionDenied("This page is for vendor staff.")
        return view(request, *args, **kwargs)

    return wrapped


def vendor_role_required(*roles: str, message: str) -> Callable[[Callable], Callable]:
    """Signed-in vendor staff with one of `roles` (admins always); others get 403 with
    `message`."""

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        @login_required
        def wrapped(request, *args, **kwargs):
            user = request.user
            if not (user.is_console_user and user.has_vendor_role(*roles)):
                raise PermissionDenied(message)
            return view(request, *args, **kwargs)

        return wrapped

    return decorator
