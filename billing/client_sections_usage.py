"""The "Usage" section of a client's page, registered with partners' one hook for sections that
higher apps add (`partners.client_sections`), from `BillingConfig.ready()`: this month's quantity
per meter, the running estimate's net, and a link to the client's usage page."""

from __future__ import annotations

from django.http import HttpRequest

from partners.client_sections import register_client_section


def render_usage(request: HttpRequest, client, area: str) -> str | None:
    from billing.views.usage_shared import render_client_section

    return render_client_section(request, client, area)


def register_usage_section() -> None:
    register_client_section("usage", render_usage)
