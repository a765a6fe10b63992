"""Landing pages of the console and the portal (placeholders until the areas arrive)."""

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import render


@login_required
def console_home(request):
    if not request.user.is_console_user:
        raise PermissionDenied
    return render(request, "console/home.html")


@login_required
def portal_home(request):
    return render(request, "portal/home.html")
