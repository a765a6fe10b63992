"""Console security settings: the vendor's two-factor policy for console users."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect, render

from accounts.forms import SecuritySettingsForm
from accounts.permissions import vendor_admin_required
from accounts.selectors import console_users_list
from core.actors import Actor
from tenancy.services import vendor_set_console_2fa


@vendor_admin_required
def security(request):
    vendor = request.tenant
    form = SecuritySettingsForm(
        request.POST or None, initial={"require_console_2fa": vendor.require_console_2fa}
    )
    if request.method == "POST" and form.is_valid():
        required = form.cleaned_data["require_console_2fa"]
        if required != vendor.require_console_2fa:
            vendor_set_console_2fa(
                vendor=vendor, required=required, actor=Actor.from_request(request)
            )
            messages.success(
                request,
                "Two-factor is now required for all console users."
                if required
                else "Two-factor is now optional for console users.",
            )
        else:
            messages.info(request, "Nothing changed.")
        return redirect("console:security")
    without_two_factor = console_users_list().filter(is_active=True, has_two_factor=False)
    context = {"form": form, "without_two_factor": without_two_factor}
    return render(request, "accounts/console/security.html", context)
