"""Which endpoint URLs we agree to POST to.

Only http(s). Unless `WEBHOOKS_ALLOW_PRIVATE_URLS` is set (development, tests), a host that is —
or resolves to — a private, loopback, link-local, multicast or otherwise non-global address is
refused, so a console admin cannot make our workers call the internal network (SSRF). The check
runs when an endpoint is saved and again before every attempt (DNS may have changed since).
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from django.conf import settings

from .errors import WebhookError

ALLOWED_SCHEMES = ("http", "https")


def _addresses(host: str) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError) as exc:
        raise WebhookError(f"The host {host} cannot be resolved.", field="url") from exc
    return [ipaddress.ip_address(info[4][0].split("%", 1)[0]) for info in infos]


def check_url(url: str, *, allow_private: bool | None = None) -> None:
    """Raise WebhookError (field `url`) when `url` may not be called."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number 0-65535
    except ValueError as exc:  # e.g. "http://[::1" or "https://host:99999/"
        raise WebhookError(
            "This is not a valid URL (check the host and port).", field="url"
        ) from exc
    if parts.scheme.lower() not in ALLOWED_SCHEMES or not parts.hostname:
        raise WebhookError("Use an http:// or https:// URL.", field="url")
    if parts.username or parts.password:
        raise WebhookError(
            "Leave credentials out of the URL; verify our signature instead.", field="url"
        )
    if allow_private is None:
        allow_private = settings.WEBHOOKS_ALLOW_PRIVATE_URLS
    if allow_private:
        return
    for address in _addresses(parts.hostname):
        if not address.is_global or address.is_multicast:
            raise WebhookError(
                "This URL points to a private or local address; use a public one.", field="url"
            )
