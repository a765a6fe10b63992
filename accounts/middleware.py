"""Two-factor at every request, on every host.

- A signed-in user with a confirmed TOTP device whose session has not passed the second factor
  is sent to verify it (any user: console, portal or platform operator), so having a password
  alone never reaches a page.
- When the vendor requires two-factor for the console, a console user without a device is sent
  to set one up before anything else.
The API (Bearer keys) and static files are not concerned.
"""

from urllib.parse import urlencode

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
        user = getattr(request, "user", None)
        if (
            user is None
            or not user.is_authenticated
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

        next_query = urlencode({"next": request.get_full_path()})
        has_device = any(True for _ in devices_for_user(user, confirmed=True))
        if has_device:
            return redirect(f"{reverse('accounts:two_factor_verify')}?{next_query}")
        vendor = getattr(request, "tenant", None)
        if (
            vendor is not None
            and not vendor.is_public
            and vendor.require_console_2fa
            and getattr(user, "is_console_user", False)
        ):
            return redirect(f"{reverse('accounts:two_factor_setup')}?{next_query}")
        return None
