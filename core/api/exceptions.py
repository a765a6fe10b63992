"""DRF's exception handler, answering problem+json with field-level `errors` for validation."""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import set_rollback

from .problems import PROBLEM_CONTENT_TYPE, problem_body

logger = logging.getLogger(__name__)

_TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    406: "Not acceptable",
    409: "Conflict",
    415: "Unsupported media type",
    422: "Unprocessable content",
    429: "Too many requests",
}


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The request conflicts with the current state of the resource."
    default_code = "conflict"


def flatten_errors(detail: Any, field: str = "") -> list[dict[str, str]]:
    """DRF's nested ValidationError detail → [{"field", "code", "message"}]."""
    if isinstance(detail, dict):
        out = []
        for key, value in detail.items():
            if isinstance(key, int):  # a list's item (DRF keys list errors by index)
                name = f"{field}[{key}]"
            else:
                name = (
                    field
                    if key in ("non_field_errors", "__all__")
                    else (f"{field}.{key}" if field else str(key))
                )
            out.extend(flatten_errors(value, name))
        return out
    if isinstance(detail, list):
        out = []
        for index, value in enumerate(detail):
            if isinstance(value, (dict, list)):
                out.extend(flatten_errors(value, f"{field}[{index}]" if field else f"[{index}]"))
            else:
                out.extend(flatten_errors(value, field))
        return out
    code = getattr(detail, "code", None) or "invalid"
    return [{"field": field, "code": str(code), "message": str(detail)}]


def problem_exception_handler(exc: Exception, context: dict) -> Response | None:
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    if not isinstance(exc, exceptions.APIException):
        return None  # unhandled: ProblemJsonMiddleware turns it into a logged 500

    headers: dict[str, str] = {}
    if getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = exc.auth_header
    if getattr(exc, "wait", None):
        headers["Retry-After"] = str(int(exc.wait) + (0 if float(exc.wait).is_integer() else 1))

    status_code = exc.status_code
    title = _TITLES.get(status_code, "Error")
    if isinstance(exc, exceptions.ValidationError):
        if status_code == 400:
            title = "Validation failed"
        errors = flatten_errors(exc.detail)
        detail = "; ".join(
            f"{e['field']}: {e['message']}" if e["field"] else e["message"] for e in errors
        )
        body = problem_body(status_code, title, detail, slug="validation", errors=errors)
    else:
        detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        slug = getattr(exc, "default_code", None) or title.lower().replace(" ", "-")
        body = problem_body(status_code, title, str(detail), slug=str(slug).replace("_", "-"))

    set_rollback()
    response = Response(
        body, status=status_code, headers=headers, content_type=PROBLEM_CONTENT_TYPE
    )
    return response
