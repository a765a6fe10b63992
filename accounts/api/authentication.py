"""`Authorization: Bearer <key>`. Keys live in the vendor's schema, so a key of vendor A
presented on vendor B's host finds nothing there and answers 401."""

from __future__ import annotations

from datetime import timedelta

from django.db import connection
from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from accounts.models import ApiKey
from accounts.services.api_keys import hash_key

# last_used_at is written at most this often per key, not on every request.
LAST_USED_RESOLUTION = timedelta(minutes=1)


class ApiKeyPrincipal:
    """request.user for API calls: the key acting, not a person."""

    is_authenticated = True
    is_anonymous = False
    is_active = True

    def __init__(self, api_key: ApiKey) -> None:
        self.api_key = api_key
        self.pk = None
        self.partner_id = api_key.partner_id

    def __str__(self) -> str:
        return f"API key {self.api_key.name}"


class ApiKeyAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header:
            return None
        parts = header.split()
        if len(parts) != 2 or parts[0] != self.keyword:
            raise exceptions.AuthenticationFailed("Use the header `Authorization: Bearer <key>`.")
        if connection.schema_name == "public":
            raise exceptions.AuthenticationFailed("API keys are valid on a vendor's host only.")
        try:
            api_key = ApiKey.objects.get(key_hash=hash_key(parts[1]), revoked_at__isnull=True)
        except ApiKey.DoesNotExist:
            raise exceptions.AuthenticationFailed("Invalid or revoked API key.") from None
        now = timezone.now()
        if api_key.last_used_at is None or now - api_key.last_used_at > LAST_USED_RESOLUTION:
            ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
            api_key.last_used_at = now
        return ApiKeyPrincipal(api_key), api_key

    def authenticate_header(self, request):
        return f'{self.keyword} realm="api"'


def credential_is_active(authorization: str) -> bool:
    """Whether an Authorization header names an active key of the current vendor (for replays)."""
    parts = authorization.split()
    if len(parts) != 2 or parts[0] != ApiKeyAuthentication.keyword:
        return False
    return ApiKey.objects.filter(key_hash=hash_key(parts[1]), revoked_at__isnull=True).exists()


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "accounts.api.authentication.ApiKeyAuthentication"
    name = "ApiKey"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "description": "An API key from the console."}
