"""/console/clients/: every partner's clients, for vendor staff (any console role reads them)."""

from __future__ import annotations

import zoneinfo
from collections.abc import Callable
from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.cache import patch_vary_headers

from partners.filters import ConsoleClientFilter, sort_columns, sort_label
from partners.models import Client
from partners.views.client_rows import CONSOLE_ROW_FIELDS, console_client_rows

PAGE_SIZE = 50


def console_reader(view: Callable) -> Callable:
    """Signed-in vendor staff of any role; partner users get 403."""

    @wraps(view)
    @login_required
    def wrapped(request, *args, **kwargs):
        if not request.user.is_console_user:
            raise PermissionDenied("This page is for vendor staff.")
        return view(request, *args, **kwargs)

    return wrapped


@console_reader
def clients(request: HttpRequest) -> HttpResponse:
    filterset = ConsoleClientFilter(
        request.GET or None,
        queryset=Client.objects.all(),
    )
    # 200,000 rows and more: a COUNT and an index-ordered page beat a window over every row.
    rows = filterset.qs.values_list(*CONSOLE_ROW_FIELDS)
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    filter_names = set(filterset.filters) - {"sort"}
    context = {
        "filter": filterset,
        "form": filterset.form,
        "page_obj": page,
        "rows": console_client_rows(
            page.object_list, zoneinfo.ZoneInfo(getattr(request.tenant, "timezone", "") or "UTC")
        ),
        "sort_columns": sort_columns(filterset.current_sort, request.GET),
        "sort_label": sort_label(filterset.current_sort),
        "is_filtered": any(v for k, v in request.GET.items() if k in filter_names),
    }
    htmx = getattr(request, "htmx", None)
    partial = bool(htmx) and not htmx.history_restore_request
    template = (
        "partners/console/clients/_results.html"
        if partial
        else "partners/console/clients/list.html"
    )
    response = render(request, template, context)
    patch_vary_headers(response, ["HX-Request"])
    return response
