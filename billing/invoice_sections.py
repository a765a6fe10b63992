"""Sections that higher apps add to an invoice's page, through one explicit hook.

billing sits below payments (and incentives), so its invoice pages cannot import them. A higher
app registers a renderer in its AppConfig.ready(); the invoice pages render every registered
section in registration order. A renderer gets the request, the invoice and the area ("console"
or "portal") and returns HTML (already escaped, e.g. from render_to_string) or None to leave its
section out.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest
from django.utils.safestring import SafeString, mark_safe

SectionRenderer = Callable[[HttpRequest, object, str], str | None]

_renderers: dict[str, SectionRenderer] = {}


def register_invoice_section(key: str, renderer: SectionRenderer) -> None:
    _renderers[key] = renderer


def render_invoice_sections(request: HttpRequest, invoice, area: str) -> list[SafeString]:
    rendered = []
    for renderer in _renderers.values():
        html = renderer(request, invoice, area)
        if html is not None:
            rendered.append(mark_safe(html))  # noqa: S308 - renderers return rendered templates
    return rendered
