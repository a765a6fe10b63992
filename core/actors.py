"""Who did something: a user, an API key or the system. Written into every audit row."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Actor:
    kind: str  # "user", "api_key" or "system"
    id: int | None
    label: str
    ip: str | None = None

    @classmethod
    def system(cls, label: str = "system") -> Actor:
        return cls(kind="system", id=None, label=label)

    @classmethod
    def for_user(cls, user, ip: str | None = None) -> Actor:
        return cls(kind="user", id=user.pk, label=user.email, ip=ip)

    @classmethod
    def for_api_key(cls, api_key, ip: str | None = None) -> Actor:
        return cls(kind="api_key", id=api_key.pk, label=f"API key {api_key.name}", ip=ip)

    @classmethod
    def from_request(cls, request) -> Actor:
        ip = client_ip(request)
        auth = getattr(request, "auth", None)
        if auth is not None and getattr(auth, "is_api_key", False):
            return cls.for_api_key(auth, ip=ip)
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            return cls.for_user(user, ip=ip)
        return cls(kind="anonymous", id=None, label="anonymous", ip=ip)


def client_ip(request) -> str | None:
    # REMOTE_ADDR is what the WSGI server saw; behind a proxy, gunicorn's forwarded_allow_ips
    # and the proxy's X-Forwarded-For handling decide it, not us.
    return request.META.get("REMOTE_ADDR") or None
