"""Error pages for people (the API answers problem+json through its own middleware)."""

from django.shortcuts import render


def _render(request, status: int, title: str, message: str):
    return render(
        request,
        "errors/error.html",
        {"status": status, "title": title, "message": message},
        status=status,
    )


def bad_request(request, exception=None):
    return _render(request, 400, "Bad request", "The request could not be understood.")


def permission_denied(request, exception=None):
    return _render(
        request,
        403,
        "Not allowed",
        "Your role does not give access to this page. Ask an admin if you need it.",
    )


def page_not_found(request, exception=None):
    return _render(request, 404, "Page not found", "There is nothing at this address.")


def server_error(request):
    return _render(
        request,
        500,
        "Something went wrong",
        "The error has been logged. Try again in a moment.",
    )
