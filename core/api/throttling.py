"""Per-key rate limit. The cache key goes through django-tenants' make_key, so vendors never share
a bucket; 429 answers carry Retry-After (set by the exception handler from DRF's wait())."""

from rest_framework.throttling import SimpleRateThrottle


class ApiKeyRateThrottle(SimpleRateThrottle):
    scope = "api_key"

    def get_cache_key(self, request, view):
        auth = getattr(request, "auth", None)
        if auth is not None and getattr(auth, "is_api_key", False):
            ident = f"key-{auth.pk}"
        else:
            ident = f"ip-{self.get_ident(request)}"
        return self.cache_format % {"scope": self.scope, "ident": ident}
