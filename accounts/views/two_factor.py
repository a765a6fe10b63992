"""Setting up and turning off TOTP two-factor for one's own account."""

from __future__ import annotations

import re
from base64 import b32encode

import django_otp
import qrcode
import qrcode.image.svg
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.utils.safestring import mark_safe
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters

from accounts.errors import AccountError
from accounts.forms import TotpCodeForm
from accounts.selectors import confirmed_totp_device
from accounts.services.two_factor import (
    totp_device_pending,
    two_factor_disable,
    two_factor_enable,
    two_factor_required_for,
)
from core.actors import Actor

from .account import account_layout
from .auth import safe_next

_SVG_SIZE = re.compile(r'^<svg width="[^"]*" height="[^"]*"')


def _qr_svg(data: str) -> str:
    """An inline SVG QR code; the SVG factory needs no imaging library."""
    image = qrcode.make(data, image_factory=qrcode.image.svg.SvgPathImage, box_size=10, border=2)
    svg = image.to_string(encoding="unicode")
    # Scale with its container (the viewBox keeps the proportions) instead of a fixed size in mm.
    return _SVG_SIZE.sub('<svg width="100%" height="100%"', svg, count=1)


def _grouped(secret: str) -> str:
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


@never_cache
@sensitive_post_parameters("code")
@login_required
def two_factor_setup(request):
    user = request.user
    if confirmed_totp_device(user) is not None:
        messages.info(request, "Two-factor authentication is already on for your account.")
        return redirect("accounts:account")
    device = totp_device_pending(user=user)
    form = TotpCodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            device = two_factor_enable(
                user=user,
                device=device,
                code=form.cleaned_data["code"],
                actor=Actor.from_request(request),
            )
        except AccountError as exc:
            form.add_error("code", str(exc))
        else:
            request.session.cycle_key()
            django_otp.login(request, device)  # the code just proved the second factor
            messages.success(request, "Two-factor authentication is on.")
            return redirect(safe_next(request))
    secret = b32encode(device.bin_key).decode().rstrip("=")
    context = {
        "form": form,
        # Generated from our own data by the qrcode library, so safe to embed.
        "qr_svg": mark_safe(_qr_svg(device.config_url)),  # noqa: S308
        "secret": _grouped(secret),
        "required": two_factor_required_for(user, getattr(request, "tenant", None)),
        "next": request.GET.get("next", ""),
    }
    return render(request, "accounts/two_factor_setup.html", context)


@never_cache
@sensitive_post_parameters("code")
@login_required
def two_factor_disable_view(request):
    user = request.user
    vendor = getattr(request, "tenant", None)
    if confirmed_totp_device(user) is None:
        messages.info(request, "Two-factor authentication is not on for your account.")
        return redirect("accounts:account")
    required = two_factor_required_for(user, vendor)
    form = TotpCodeForm(request.POST or None)
    if request.method == "POST" and not required and form.is_valid():
        try:
            two_factor_disable(
                user=user,
                code=form.cleaned_data["code"],
                vendor=vendor,
                actor=Actor.from_request(request),
            )
        except AccountError as exc:
            form.add_error("code", str(exc))
        else:
            messages.success(request, "Two-factor authentication is off.")
            return redirect("accounts:account")
    status = 403 if required and request.method == "POST" else 200
    context = {"form": form, "required": required, "layout": account_layout(request)}
    return render(request, "accounts/two_factor_disable.html", context, status=status)
