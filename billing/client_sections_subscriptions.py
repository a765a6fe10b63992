"""The "Subscriptions" section of a client's page, registered with partners' one hook for
sections that higher apps add (`partners.client_sections`), from `BillingConfig.ready()`."""

from __future__ import annotations

from django.http import HttpRequest

from partners.client_sections import register_client_section


def render_subscriptions(request: HttpRequest, client, area: str) -> str | None:
    from billing.views.subscriptions import render_section

    return render_section(request, client, area)


def register_subscriptions_section() -> None:
    register_client_section("subscriptions", render_subscriptions)
