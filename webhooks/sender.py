"""One HTTP POST of a webhook, with the standard library's client (no HTTP client is a direct
dependency of the project). Redirects are not followed: a 3xx is a failed attempt, so an endpoint
cannot bounce our signed requests elsewhere."""

from __future__ import annotations

import http.client
import time
import urllib.error
import urllib.request
from dataclasses import dataclass

EXCERPT_BYTES = 1000


@dataclass(frozen=True)
class SendResult:
    status_code: int | None
    duration_ms: int
    error: str = ""
    response_excerpt: str = ""

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None  # urllib then raises HTTPError with the 3xx


_opener = urllib.request.build_opener(_NoRedirects())


def _excerpt(raw: bytes) -> str:
    return raw[:EXCERPT_BYTES].decode("utf-8", errors="replace")


def post(url: str, body: bytes, headers: dict[str, str], *, timeout: float) -> SendResult:
    request = urllib.request.Request(  # noqa: S310 - the scheme is checked (url_safety)
        url, data=body, headers={**headers, "User-Agent": "msp-program-webhooks/1"}, method="POST"
    )
    started = time.monotonic()

    def elapsed() -> int:
        return int((time.monotonic() - started) * 1000)

    try:
        with _opener.open(request, timeout=timeout) as response:
            raw = response.read(EXCERPT_BYTES)
            return SendResult(response.status, elapsed(), response_excerpt=_excerpt(raw))
    except urllib.error.HTTPError as exc:
        try:
            raw = exc.read(EXCERPT_BYTES) if exc.fp is not None else b""
        except OSError:
            raw = b""
        finally:
            exc.close()
        return SendResult(exc.code, elapsed(), f"HTTP {exc.code}", _excerpt(raw))
    except urllib.error.URLError as exc:
        reason = exc.reason
        if isinstance(reason, TimeoutError):
            return SendResult(None, elapsed(), f"Timed out after {timeout:g} s")
        return SendResult(None, elapsed(), f"Connection failed: {reason}"[:500])
    except TimeoutError:
        return SendResult(None, elapsed(), f"Timed out after {timeout:g} s")
    except (OSError, ValueError, http.client.HTTPException) as exc:
        # InvalidURL/ValueError (e.g. a non-numeric port): a URL saved before check_url refused it.
        return SendResult(None, elapsed(), f"Connection failed: {exc}"[:500])
