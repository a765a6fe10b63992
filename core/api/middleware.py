"""Everything under /api/ answers problem+json, including what DRF never sees: URLs that resolve
to nothing, Django-level 404/405, CSRF failures and unhandled exceptions (never a stack trace)."""

import logging

from .problems import PROBLEM_CONTENT_TYPE, is_api_path, problem_response

logger = logging.getLogger("core.api")

_DEFAULT_DETAIL = {
    400: ("Bad request", "The request could not be understood."),
    401: ("Unauthorized", "Authentication credentials were not provided or are not valid."),
    403: ("Forbidden", "You do not have permission to perform this action."),
    404: ("Not found", "There is nothing at this URL."),
    405: ("Method not allowed", "This method is not allowed at this URL."),
    500: ("Internal server error", "Something went wrong on our side; it has been logged."),
}


class ProblemJsonMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if not is_api_path(request.path) or response.status_code < 400:
            return response
        if response.get("Content-Type", "").startswith(PROBLEM_CONTENT_TYPE):
            return response
        # Doc pages (HTML by design) are not errors; anything else >= 400 is rewritten.
        title, detail = _DEFAULT_DETAIL.get(response.status_code, ("Error", "The request failed."))
        headers = {}
        for name in ("Allow", "Retry-After", "WWW-Authenticate"):
            if response.has_header(name):
                headers[name] = response[name]
        return problem_response(response.status_code, title, detail, headers=headers)

    def process_exception(self, request, exception):
        if not is_api_path(request.path):
            return None
        logger.exception(
            "unhandled exception in API request",
            extra={"path": request.path, "method": request.method},
        )
        title, detail = _DEFAULT_DETAIL[500]
        request_id = getattr(request, "request_id", None)
        if request_id:
            detail = f"{detail} Reference: {request_id}."
        return problem_response(500, title, detail, slug="internal-error")
