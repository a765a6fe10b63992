"""When the vendor requires two-factor for the console, a console user without a verified TOTP
device is sent to set one up (or to verify it) before anything else."""

from django.shortcuts import redirect
from django.urls import reverse

# Pages that must stay reachable while two-factor is pending.
_ALLOWED_URL_NAMES = {
    "accounts:logout",
    "accounts:two_factor_setup",
    "accounts:two_factor_verify",
}


class RequireTwoFactorMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        vendor = getattr(request, "tenant", None)
        user = getattr(request, "user", None)
        if (
            vendor is None
            or vendor.is_public
            or user is None
            or not user.is_authenticated
            or not getattr(user, "is_console_user", False)
            or request.path.startswith("/api/")
            or request.path.startswith("/static/")
        ):
            return None
        match = request.resolver_match
        name = f"{match.namespace}:{match.url_name}" if match and match.namespace else None
        if name in _ALLOWED_URL_NAMES:
            return None
        if user.is_verified():
            return None
        from django_otp import devices_for_user

        has_device = any(True for _ in devices_for_user(user, confirmed=True))
        if has_device:
            return redirect(
                f"{reverse('accounts:two_factor_verify')}?next={request.get_full_path()}"
            )
        if vendor.require_console_2fa:
            return redirect(reverse("accounts:two_factor_setup"))
        return None
