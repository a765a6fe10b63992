"""/console/clients/: vendor staff of any role see every partner's clients, filter them by partner,
status and search, page through them, in a constant number of queries. Partner users get 403."""

from __future__ import annotations

import re

import pytest
from django_tenants.utils import schema_context

from accounts.enums import VendorRole
from accounts.models import User
from tests.factories import ClientFactory

from .clients_support import count_queries, make_partner, member, signed_in

pytestmark = pytest.mark.django_db
URL = "/console/clients/"


def rows(html: str) -> list[tuple[str, str]]:
    """(client, partner) of each listed row."""
    return re.findall(
        r'<td data-label="Client"><strong>([^<]+)</strong></td>.*?<td data-label="Partner">'
        r"(?:<a [^>]+>)?([^<]+?)(?:</a>)? <a",
        html,
        re.S,
    )


def staff(tv, role: str) -> User:
    with schema_context(tv.schema):
        return User.objects.create_user(
            f"{role}-staff@vendor-a.example", "x" * 12, vendor_role=role
        )


@pytest.fixture
def partners(vendor_a):
    acme = make_partner(vendor_a, name="Acme IT")
    rival = make_partner(vendor_a, name="Rival MSP")
    with schema_context(vendor_a.schema):
        ClientFactory(partner=acme, name="Alpha", external_id="A-1", status="active")
        ClientFactory(partner=acme, name="Bravo", external_id="B-1", status="trial")
        ClientFactory(partner=rival, name="Charlie", external_id="A-2", status="active")
        ClientFactory(partner=rival, name="Delta", external_id="D-1", status="churned")
    return {"acme": acme, "rival": rival}


@pytest.mark.parametrize("role", [VendorRole.ADMIN, VendorRole.ANALYST, VendorRole.SUPPORT])
def test_any_console_role_reads_every_partners_clients(vendor_a, partners, role):
    response = signed_in(vendor_a, staff(vendor_a, role)).get(URL)
    assert response.status_code == 200
    assert rows(response.content.decode()) == [
        ("Alpha", "Acme IT"),
        ("Bravo", "Acme IT"),
        ("Charlie", "Rival MSP"),
        ("Delta", "Rival MSP"),
    ]


def test_filters_by_partner_status_and_search(vendor_a, partners):
    admin = signed_in(vendor_a, staff(vendor_a, VendorRole.CHANNEL_MANAGER))

    def listed(**params) -> list[str]:
        return [client for client, _ in rows(admin.get(URL, params).content.decode())]

    assert listed(partner=partners["rival"].pk) == ["Charlie", "Delta"]
    assert listed(status="active") == ["Alpha", "Charlie"]
    assert listed(q="a-") == ["Alpha", "Charlie"]
    assert listed(partner=partners["acme"].pk, status="active", q="alp") == ["Alpha"]
    assert listed(sort="-name") == ["Delta", "Charlie", "Bravo", "Alpha"]
    html = admin.get(URL, {"partner": 999999}).content.decode()
    assert "Select a valid choice" in html
    options = re.search(r'<select name="partner"[^>]*>(.*?)</select>', html, re.S).group(1)
    assert re.findall(r">([^<]+)</option>", options) == ["Any partner", "Acme IT", "Rival MSP"]


def test_pages_and_query_count_do_not_grow_with_the_rows(vendor_a):
    partners = [make_partner(vendor_a) for _ in range(3)]
    with schema_context(vendor_a.schema):
        for n in range(5):
            ClientFactory(partner=partners[n % 3])
    admin = signed_in(vendor_a, staff(vendor_a, VendorRole.FINANCE))
    admin.get(URL)
    few, _ = count_queries(admin, URL)
    more_partners = [make_partner(vendor_a) for _ in range(4)]
    with schema_context(vendor_a.schema):
        for n in range(55):
            ClientFactory(partner=more_partners[n % 4])
    many, html = count_queries(admin, URL)
    assert few == many
    assert len(rows(html)) == 50 and "Clients 1–50 of 60" in html
    _, second = count_queries(admin, URL, {"page": 2})
    assert len(rows(second)) == 10


def test_htmx_gets_the_results_only(vendor_a, partners):
    admin = signed_in(vendor_a, staff(vendor_a, VendorRole.ADMIN))
    response = admin.get(URL, {"status": "churned"}, HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert '<form class="filters"' not in html
    assert rows(html) == [("Delta", "Rival MSP")]
    assert "HX-Request" in response["Vary"]


def test_partner_users_and_anonymous_visitors_are_kept_out(vendor_a, partners, client_a):
    owner = signed_in(vendor_a, member(vendor_a, partners["acme"], "owner"))
    assert owner.get(URL).status_code == 403
    response = client_a.get(URL)
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_names_are_escaped_in_the_rows(vendor_a):
    partner = make_partner(vendor_a, name="<b>MSP</b>")
    with schema_context(vendor_a.schema):
        ClientFactory(partner=partner, name="<script>alert(1)</script>")
    html = signed_in(vendor_a, staff(vendor_a, VendorRole.ADMIN)).get(URL).content.decode()
    assert "<script>alert(1)</script>" not in html and "<b>MSP</b>" not in html
    assert "<strong>&lt;script&gt;alert(1)&lt;/script&gt;</strong>" in html
    assert 'aria-label="Only the clients of &lt;b&gt;MSP&lt;/b&gt;"' in html
