"""Sections that later areas add to a client's page, through one explicit hook.

partners sits below billing and support, so its client pages cannot import them. Instead a higher
app registers a section renderer in its AppConfig.ready(); the client pages (portal and console)
render every registered section in order, and show the placeholder of a section nobody has
registered yet. A renderer gets the request, the client and the area ("portal" or "console") and
returns HTML (already escaped, e.g. from render_to_string) or None to leave the section out.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.http import HttpRequest
from django.utils.safestring import SafeString, mark_safe

SectionRenderer = Callable[[HttpRequest, object, str], str | None]

_renderers: dict[str, SectionRenderer] = {}

# The sections a client page has, in order, with the placeholder shown until an area registers.
SECTIONS: tuple[tuple[str, str, str], ...] = (
    (
        "subscriptions",
        "Subscriptions",
        "The price plans and seats this client subscribes to will be listed here once billing "
        "is set up.",
    ),
    ("usage", "Usage", "Usage reported for this client, month by month, will appear here."),
    (
        "margin",
        "Margin",
        "What this client costs you on your invoice, next to what you charge, will appear here.",
    ),
    (
        "escalations",
        "Escalations",
        "Support cases you open about this client will be listed here.",
    ),
)


@dataclass(frozen=True)
class RenderedSection:
    key: str
    title: str
    html: SafeString | None  # None: not built yet, show the placeholder
    placeholder: str


def register_client_section(key: str, renderer: SectionRenderer) -> None:
    if key not in {k for k, _, _ in SECTIONS}:
        raise ValueError(f"Unknown client section {key!r}.")
    _renderers[key] = renderer


def registered_sections() -> set[str]:
    return set(_renderers)


def render_client_sections(request: HttpRequest, client, area: str) -> list[RenderedSection]:
    sections = []
    for key, title, placeholder in SECTIONS:
        renderer = _renderers.get(key)
        html = None
        if renderer is not None:
            rendered = renderer(request, client, area)
            if rendered is None:
                continue
            html = mark_safe(rendered)  # noqa: S308 - renderers return rendered templates
        sections.append(RenderedSection(key, title, html, placeholder))
    return sections
