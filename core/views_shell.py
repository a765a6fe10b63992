"""Home pages of the console and the portal: who you are, where you are, and what you can open."""

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from accounts.enums import VendorRole


@login_required
def console_home(request: HttpRequest) -> HttpResponse:
    # Partner users have no vendor role; their home is the portal (the root URL sends them there).
    if not request.user.is_console_user:
        raise PermissionDenied
    return render(
        request,
        "console/home.html",
        {
            # has_vendor_role() with no roles is true for admins only.
            "is_admin": request.user.has_vendor_role(),
            "can_read_audit_log": request.user.has_vendor_role(VendorRole.ANALYST),
        },
    )


@login_required
def portal_home(request: HttpRequest) -> HttpResponse:
    return render(request, "portal/home.html")
