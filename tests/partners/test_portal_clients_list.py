"""/portal/clients/: scoping, search, filters, sorting, pagination, counts, htmx, export, query
counts. Partner A's users never see partner B's clients, in the list, the export or the filters."""

from __future__ import annotations

import csv
import datetime
import io
import re
import zoneinfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import schema_context

from partners.enums import ClientStatus
from partners.models import Client
from tests.factories import ClientFactory

from .clients_support import body, count_queries, make_partner, member, portal_as, signed_in

pytestmark = pytest.mark.django_db

BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")  # vendor A's time zone
URL = "/portal/clients/"
EXPORT_URL = "/portal/clients/export.csv"


def names(html: str) -> list[str]:
    return re.findall(
        r'<td data-label="Name"><a href="/portal/clients/\d+/"><strong>([^<]+)<', html
    )


def select_options(html: str, name: str) -> list[str]:
    select = re.search(rf'<select name="{name}"[^>]*>(.*?)</select>', html, re.S).group(1)
    return re.findall(r'<option value="([^"]*)"', select)


def chip_counts(html: str) -> dict[str, str]:
    nav = re.search(r'<nav class="status-counts".*?</nav>', html, re.S).group(0)
    found = re.findall(r'>([A-Za-z ]+) <span class="count">(\d+)</span>', nav)
    return {label: count for label, count in found}


def at(day: int, hour: int = 12) -> datetime.datetime:
    return datetime.datetime(2026, 3, day, hour, 0, tzinfo=BERLIN)


@pytest.fixture
def setup(vendor_a):
    partner = make_partner(vendor_a, name="Acme IT")
    rival = make_partner(vendor_a, name="Rival MSP")
    with schema_context(vendor_a.schema):
        rows = [
            # name, external id, status, tier, started, created (Berlin)
            ("Alpha", "A-1", "active", "Essentials", datetime.date(2026, 1, 5), at(1, 0)),
            ("Bravo", "B-2", "trial", "Premium", datetime.date(2026, 2, 1), at(2)),
            ("Charlie", "C-3", "nfr", "", datetime.date(2025, 12, 1), at(3)),
            ("Delta", "D-4", "suspended", "Essentials", datetime.date(2026, 1, 20), at(4)),
            ("Echo", "E-5", "churned", "Premium", datetime.date(2025, 6, 1), at(5, 23)),
        ]
        clients = {}
        for name, ext, status, tier, started, created in rows:
            client = ClientFactory(
                partner=partner,
                name=name,
                external_id=ext,
                status=status,
                service_tier=tier,
                started_on=started,
                ended_on=datetime.date(2026, 2, 28) if status == "churned" else None,
            )
            Client.objects.filter(pk=client.pk).update(created_at=created)
            clients[name] = client
        ClientFactory(
            partner=rival, name="Alpha Rival", external_id="A-1", service_tier="Secret Tier"
        )
    viewer = portal_as(vendor_a, partner, "viewer")
    return {"partner": partner, "rival": rival, "clients": clients, "viewer": viewer}


def test_every_role_sees_only_its_partners_clients_with_counts_and_tiers(vendor_a, setup):
    response = setup["viewer"].get(URL)
    assert response.status_code == 200
    html = response.content.decode()
    assert names(html) == ["Alpha", "Bravo", "Charlie", "Delta", "Echo"]
    assert "Alpha Rival" not in html and "Secret Tier" not in html
    assert chip_counts(html) == {
        "All": "5",
        "Trial": "1",
        "Active": "1",
        "Not for resale": "1",
        "Suspended": "1",
        "Churned": "1",
    }
    # The service-tier choices are this partner's distinct values only.
    assert select_options(html, "service_tier") == ["", "Essentials", "Premium"]
    # Trial and NFR clients are flagged as not billed.
    assert html.count('<span class="badge badge-neutral">not billed</span>') == 2
    # A viewer has no buttons to change anything.
    assert "/portal/clients/new/" not in html and "/portal/clients/import/" not in html


def test_search_matches_name_or_external_id(vendor_a, setup):
    viewer = setup["viewer"]
    assert names(viewer.get(URL, {"q": "alp"}).content.decode()) == ["Alpha"]
    assert names(viewer.get(URL, {"q": "d-4"}).content.decode()) == ["Delta"]
    html = viewer.get(URL, {"q": "zzz"}).content.decode()
    assert names(html) == [] and "No matching clients" in html


def test_filters_by_status_tier_and_created_days_in_the_vendors_zone(vendor_a, setup):
    viewer = setup["viewer"]
    assert names(viewer.get(URL, {"status": "trial"}).content.decode()) == ["Bravo"]
    assert names(viewer.get(URL, {"service_tier": "Essentials"}).content.decode()) == [
        "Alpha",
        "Delta",
    ]
    # Alpha was created at 00:00 Berlin on 1 March (23:00 UTC on 28 February): it is a 1 March
    # client. Echo at 23:00 Berlin on 5 March is still a 5 March client.
    html = viewer.get(URL, {"created_from": "2026-03-01", "created_to": "2026-03-01"}).content
    assert names(html.decode()) == ["Alpha"]
    html = viewer.get(URL, {"created_from": "2026-03-04", "created_to": "2026-03-05"}).content
    assert names(html.decode()) == ["Delta", "Echo"]
    combined = {"status": "suspended", "service_tier": "Essentials", "q": "del"}
    html = viewer.get(URL, {**combined, "created_from": "2026-03-01"}).content.decode()
    assert names(html) == ["Delta"]
    # The form shows the filters back as entered.
    assert '<input type="search" name="q" id="id_q" value="del"' in html
    assert '<option value="suspended" selected>Suspended</option>' in html
    assert '<option value="Essentials" selected>Essentials</option>' in html
    assert 'name="created_from" id="id_created_from" value="2026-03-01"' in html


def test_another_partners_tier_is_not_a_choice_and_reveals_nothing(vendor_a, setup):
    html = setup["viewer"].get(URL, {"service_tier": "Secret Tier"}).content.decode()
    assert "Select a valid choice" in html
    assert "Alpha Rival" not in html
    # The invalid filter is ignored, the rest of the list is still this partner's only.
    assert names(html) == ["Alpha", "Bravo", "Charlie", "Delta", "Echo"]


def test_a_reversed_date_range_is_explained(vendor_a, setup):
    html = setup["viewer"].get(URL, {"created_from": "2026-03-05", "created_to": "2026-03-01"})
    assert "is before the" in html.content.decode()


def test_sorting_by_each_column_both_ways(vendor_a, setup):
    viewer = setup["viewer"]

    def order(sort: str) -> list[str]:
        return names(viewer.get(URL, {"sort": sort}).content.decode())

    assert order("-name") == ["Echo", "Delta", "Charlie", "Bravo", "Alpha"]
    assert order("status") == ["Bravo", "Alpha", "Charlie", "Delta", "Echo"]
    assert order("-status") == ["Echo", "Delta", "Charlie", "Alpha", "Bravo"]
    assert order("started") == ["Echo", "Charlie", "Alpha", "Delta", "Bravo"]
    assert order("-created") == ["Echo", "Delta", "Charlie", "Bravo", "Alpha"]
    assert order("created") == ["Alpha", "Bravo", "Charlie", "Delta", "Echo"]
    # The header of the active column flips it; aria-sort says which way it is sorted.
    html = viewer.get(URL, {"sort": "name"}).content.decode()
    assert 'aria-sort="ascending"><a href="?sort=-name"' in html
    assert 'aria-sort="none"><a href="?sort=-created"' in html


def test_fifty_a_page(vendor_a):
    partner = make_partner(vendor_a)
    with schema_context(vendor_a.schema):
        for n in range(60):
            ClientFactory(partner=partner, name=f"Client {n:02d}", external_id=f"X{n:02d}")
    viewer = portal_as(vendor_a, partner, "viewer")
    first = viewer.get(URL).content.decode()
    assert len(names(first)) == 50 and names(first)[0] == "Client 00"
    assert "Clients 1–50 of 60" in first
    second = viewer.get(URL, {"page": 2}).content.decode()
    assert names(second) == [f"Client {n}" for n in range(50, 60)]
    assert "Clients 51–60 of 60" in second
    # A filtered list counts with its page; a page past the end shows the last one.
    past_end = viewer.get(URL, {"q": "client", "page": 9}).content.decode()
    assert names(past_end) == names(second) and "Clients 51–60 of 60 matching" in past_end
    assert names(viewer.get(URL, {"q": "client", "page": "x"}).content.decode()) == names(first)
    assert "Clients 1–50 of 60 matching" in viewer.get(URL, {"q": "client"}).content.decode()


def client_ids(html: str) -> list[int]:
    return [int(pk) for pk in re.findall(r'<tr data-client-id="(\d+)">', html)]


@pytest.mark.parametrize("deferred_from", [1000, 50])
def test_every_page_has_the_rows_of_the_sorted_list_whichever_way_it_is_read(
    vendor_a, monkeypatch, deferred_from
):
    """A page in the second half is read backwards from the end and turned around; one deep in
    the middle (from `DEFERRED_JOIN_FROM` skipped rows) through its ids, from whichever end is
    nearer. Every way gives the page of the one sorted list, also with ties in the sort key
    (status, then name) that only the id breaks."""
    from partners.views import client_rows

    monkeypatch.setattr(client_rows, "DEFERRED_JOIN_FROM", deferred_from)
    partner = make_partner(vendor_a)
    statuses = ["active", "trial", "suspended", "nfr", "churned"]
    with schema_context(vendor_a.schema):
        for n in range(290):
            ClientFactory(
                partner=partner,
                name=f"Client {n % 40:02d}",  # seven or eight clients share each name
                external_id=f"X{n:03d}",
                status=statuses[n % 5],
                ended_on=datetime.date(2026, 2, 1) if n % 5 == 4 else None,
            )
        rank = {status: i for i, status in enumerate(ClientStatus.values)}  # lifecycle order
        rows = list(Client.objects.filter(partner=partner).values_list("pk", "name", "status"))
    by_status = [pk for pk, name, status in sorted(rows, key=lambda r: (rank[r[2]], r[1], r[0]))]
    by_name_desc = [pk for pk, _name, _status in sorted(rows, key=lambda r: (r[1], r[0]))][::-1]
    # How each page is read: from which end, and whether through its ids.
    ways = {
        1000: ["start", "start", "start", "end", "end", "end"],
        50: ["start", "start ids", "start ids", "end ids", "end", "end"],
    }[deferred_from]
    viewer = portal_as(vendor_a, partner, "viewer")
    viewer.get(URL)  # warm up (session, content types)
    for sort, expected in (("status", by_status), ("-name", by_name_desc)):
        reference, _ = count_queries(viewer, URL, {"sort": sort})
        for page, way in enumerate(ways, start=1):  # 50, 50, 50, 50, 50, 40 rows
            with CaptureQueriesContext(connection) as queries:
                html = viewer.get(URL, {"sort": sort, "page": page}).content.decode()
            assert client_ids(html) == expected[(page - 1) * 50 : page * 50], (sort, page)
            assert len(queries) == reference  # one query for the page, whichever way
            # The page query's (outer) order ends on the id: the list's direction, or reversed.
            sql = queries[-1]["sql"]
            last = sql.rsplit("ORDER BY", 1)[1].rsplit(", 1 ", 1)[1]
            backwards = last.startswith("DESC" if sort == "status" else "ASC")
            ids = " ids" if " IN (SELECT " in sql else ""
            assert ("end" if backwards else "start") + ids == way, (sort, page)


def test_htmx_gets_only_the_results_and_keeps_the_sort_in_the_form(vendor_a, setup):
    response = setup["viewer"].get(
        URL, {"status": "trial", "sort": "-name"}, HTTP_HX_REQUEST="true"
    )
    html = response.content.decode()
    assert "HX-Request" in response["Vary"]
    assert '<form class="filters"' not in html and "<html" not in html
    assert names(html) == ["Bravo"]
    assert '<input type="hidden" name="sort" value="-name" form="client-filters">' in html
    # The export link follows the filters.
    assert 'href="/portal/clients/export.csv?status=trial&amp;sort=-name"' in html
    full = setup["viewer"].get(URL, HTTP_HX_REQUEST="true", HTTP_HX_HISTORY_RESTORE_REQUEST="true")
    assert '<form class="filters"' in full.content.decode()


def test_the_filter_form_pushes_its_url_with_htmx(vendor_a, setup):
    html = setup["viewer"].get(URL).content.decode()
    assert 'hx-get="/portal/clients/" hx-target="#client-results" hx-push-url="true"' in html


def test_query_count_does_not_grow_with_the_clients(vendor_a):
    partner = make_partner(vendor_a)
    with schema_context(vendor_a.schema):
        ClientFactory.create_batch(5, partner=partner)
    viewer = portal_as(vendor_a, partner, "technician")
    viewer.get(URL)  # warm up (session, content types)
    small, _ = count_queries(viewer, URL)
    small_export, _ = count_queries(viewer, EXPORT_URL)
    with schema_context(vendor_a.schema):
        ClientFactory.create_batch(55, partner=partner, service_tier="Premium")
    large, html = count_queries(viewer, URL, {"sort": "-status"})
    large_export, text = count_queries(viewer, EXPORT_URL)
    assert len(names(html)) == 50
    assert text.count("\n") == 61
    assert small == large
    assert small_export == large_export
    assert large <= 9


def test_export_is_the_filtered_csv_of_this_partner_only(vendor_a, setup):
    clients = setup["clients"]
    with schema_context(vendor_a.schema):
        Client.objects.filter(pk=clients["Bravo"].pk).update(name="=cmd|' /C calc'!A0")
    response = setup["viewer"].get(EXPORT_URL, {"sort": "created"})
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert re.fullmatch(
        r'attachment; filename="clients-acme-it-\d{4}-\d{2}-\d{2}\.csv"',
        response["Content-Disposition"],
    )
    text = body(response)
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    ids = {name: client.pk for name, client in clients.items()}
    assert rows == [
        [
            "id",
            "name",
            "external_id",
            "status",
            "service_tier",
            "started_on",
            "ended_on",
            "created_at",
        ],
        [str(ids["Alpha"]), "Alpha", "A-1", "active", "Essentials", "2026-01-05", "",
         "2026-03-01T00:00:00+01:00"],
        # A formula is exported as text, never run by the spreadsheet.
        [str(ids["Bravo"]), "'=cmd|' /C calc'!A0", "B-2", "trial", "Premium", "2026-02-01", "",
         "2026-03-02T12:00:00+01:00"],
        [str(ids["Charlie"]), "Charlie", "C-3", "nfr", "", "2025-12-01", "",
         "2026-03-03T12:00:00+01:00"],
        [str(ids["Delta"]), "Delta", "D-4", "suspended", "Essentials", "2026-01-20", "",
         "2026-03-04T12:00:00+01:00"],
        [str(ids["Echo"]), "Echo", "E-5", "churned", "Premium", "2025-06-01", "2026-02-28",
         "2026-03-05T23:00:00+01:00"],
    ]  # fmt: skip
    filtered = body(setup["viewer"].get(EXPORT_URL, {"service_tier": "Premium", "q": "ech"}))
    assert [row[1] for row in csv.reader(io.StringIO(filtered.lstrip("\ufeff")))] == [
        "name",
        "Echo",
    ]
    # Another partner's tier as a filter exports nothing of that partner.
    leaked = body(setup["viewer"].get(EXPORT_URL, {"service_tier": "Secret Tier"}))
    assert "Alpha Rival" not in leaked and "Secret Tier" not in leaked


def test_the_import_template(vendor_a, setup):
    response = setup["viewer"].get("/portal/clients/import/template.csv")
    assert response["Content-Disposition"] == 'attachment; filename="clients-template.csv"'
    assert response.content.decode().splitlines() == [
        "name,external_id,status,service_tier,started_on,ended_on",
        "Contoso Ltd,CONTOSO-001,active,Essentials,2026-01-15,",
        "Fabrikam Inc,FAB-002,trial,Premium,2026-03-01,",
        "Litware GmbH,LIT-003,churned,Essentials,2025-06-01,2026-02-28",
    ]


def test_owner_sees_the_buttons(vendor_a, setup):
    owner = portal_as(vendor_a, setup["partner"], "owner")
    html = owner.get(URL).content.decode()
    assert 'href="/portal/clients/new/"' in html and 'href="/portal/clients/import/"' in html


def test_not_for_anonymous_or_vendor_staff(vendor_a, setup, client_a):
    response = client_a.get(URL)
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    with schema_context(vendor_a.schema):
        from accounts.models import User

        admin = User.objects.get(email=vendor_a.admin_email)
    assert signed_in(vendor_a, admin).get(URL).status_code == 403
    assert signed_in(vendor_a, admin).get(EXPORT_URL).status_code == 403


def test_a_user_of_the_other_partner_sees_only_theirs(vendor_a, setup):
    rival_user = signed_in(vendor_a, member(vendor_a, setup["rival"], "owner"))
    html = rival_user.get(URL).content.decode()
    assert names(html) == ["Alpha Rival"]
    assert select_options(html, "service_tier") == ["", "Secret Tier"]
    exported = body(rival_user.get(EXPORT_URL))
    assert [row[1] for row in csv.reader(io.StringIO(exported.lstrip("\ufeff")))] == [
        "name",
        "Alpha Rival",
    ]


def test_names_are_escaped_in_the_rows(vendor_a):
    partner = make_partner(vendor_a, name="<b>MSP</b>")
    with schema_context(vendor_a.schema):
        ClientFactory(
            partner=partner,
            name="<script>alert(1)</script>",
            external_id='"><img src=x>',
            service_tier="<i>Gold</i>",
        )
    html = portal_as(vendor_a, partner, "viewer").get(URL).content.decode()
    assert "<script>alert(1)</script>" not in html and "<img src=x>" not in html
    assert "<strong>&lt;script&gt;alert(1)&lt;/script&gt;</strong>" in html
    assert ">&quot;&gt;&lt;img src=x&gt;</td>" in html
    assert ">&lt;i&gt;Gold&lt;/i&gt;</td>" in html
