"""/portal/clients/ searching the upper-cased `search_key` column, and counting what the filters
match in the same grouped query as the status counts: the same rows and numbers as
`name__icontains | external_id__icontains` and a COUNT of the filtered list, the generated column
and its index in every vendor schema, and the links the list builds without a template tag."""

from __future__ import annotations

import datetime
import re
import zoneinfo

import pytest
from django.db import connection
from django.db.models import Q
from django.http import QueryDict
from django.template import Context, Template
from django_tenants.utils import schema_context

from core.actors import Actor
from core.models import AuditEntry
from partners.filters import PortalClientFilter, QueryLinks, search_condition
from partners.models import Client
from partners.services.clients import client_create, client_update
from tests.factories import ClientFactory

from .clients_support import count_queries, make_partner, portal_as

pytestmark = pytest.mark.django_db

URL = "/portal/clients/"
BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")
NAMES = [
    # name, external id
    ("Straße Süd GmbH", "SUED-1"),
    ("ÉCOLE numérique", "ECO_2"),
    ("100% Uptime", "PCT-3"),
    ("Under_score Ltd", "U-4"),
    ("Back\\slash AG", "B\\5"),
    ("Multi\nLine", "NL-6"),
    ("Line", "E-7"),
    ("Harbor Cedar", "HC-8"),
    ("Cedar Harbor", "harbor-9"),
]


def names(html: str) -> list[str]:
    return re.findall(
        r'<td data-label="Name"><a href="/portal/clients/\d+/"><strong>([^<]+)<', html
    )


def summary(html: str) -> str:
    return re.search(r'<p class="result-summary" id="client-summary">(.*?)</p>', html).group(1)


@pytest.fixture
def partner(vendor_a):
    partner = make_partner(vendor_a, name="Acme IT")
    rival = make_partner(vendor_a, name="Rival MSP")
    with schema_context(vendor_a.schema):
        for name, external_id in NAMES:
            ClientFactory(partner=partner, name=name, external_id=external_id)
        ClientFactory(partner=rival, name="Harbor Rival", external_id="R-1")
    return partner


def icontains(vendor_a, partner, value: str) -> list[str]:
    """What Django's icontains on the two columns finds: the definition the search must meet."""
    value = value.strip()
    with schema_context(vendor_a.schema):
        return list(
            Client.objects.filter(partner=partner)
            .filter(Q(name__icontains=value) | Q(external_id__icontains=value))
            .order_by("name", "id")
            .values_list("name", flat=True)
        )


@pytest.mark.parametrize(
    "query, expected",
    [
        ("harbor", ["Cedar Harbor", "Harbor Cedar"]),
        ("HARBOR-9", ["Cedar Harbor"]),
        ("  cedar  ", ["Cedar Harbor", "Harbor Cedar"]),
        ("straße", ["Straße Süd GmbH"]),
        ("SÜD", ["Straße Süd GmbH"]),
        ("école", ["ÉCOLE numérique"]),
        ("NUMÉRIQUE", ["ÉCOLE numérique"]),
        # LIKE's wildcards and escape character are plain text in a search.
        ("%", ["100% Uptime"]),
        ("0% u", ["100% Uptime"]),
        ("_", ["ÉCOLE numérique", "Under_score Ltd"]),
        ("\\", ["Back\\slash AG"]),
        ("b\\5", ["Back\\slash AG"]),
        # A newline never joins the end of a name to the start of its external id …
        ("line\nnl", []),
        ("e\ne", []),
        # … but a name with a newline in it is still found.
        ("multi\nline", ["Multi\nLine"]),
        ("line", ["Line", "Multi\nLine"]),
        ("zzz", []),
    ],
)
def test_search_finds_what_icontains_on_name_or_external_id_finds(
    vendor_a, partner, query, expected
):
    html = portal_as(vendor_a, partner, "viewer").get(URL, {"q": query}).content.decode()
    found = names(html)  # in the database's order of names, as icontains() lists them
    assert sorted(found) == sorted(expected) and found == icontains(vendor_a, partner, query)
    assert "Harbor Rival" not in html


def test_the_search_uses_the_generated_column_unless_the_text_has_a_newline(vendor_a, partner):
    with schema_context(vendor_a.schema):
        plain = str(Client.objects.filter(search_condition("Harbor")).values("id").query)
        spanning = str(Client.objects.filter(search_condition("a\nb")).values("id").query)
    assert '"partners_client"."search_key"::text LIKE UPPER(%Harbor%)' in plain
    assert "UPPER(" not in plain.split("LIKE")[0]  # no per-row UPPER of the column
    assert "search_key" not in spanning and 'UPPER("partners_client"."name"::text)' in spanning
    assert search_condition("   ") == Q()


def test_the_search_key_follows_every_write(vendor_a):
    partner = make_partner(vendor_a)
    actor = Actor.system("test")
    with schema_context(vendor_a.schema):
        client = client_create(
            partner=partner, name="Old Name", external_id="ext-1", service_tier="", actor=actor
        )
        assert client.search_key == "OLD NAME\nEXT-1"  # returned by the INSERT
        client_update(client=client, name="Brand New", actor=actor)
        assert Client.objects.get(pk=client.pk).search_key == "BRAND NEW\nEXT-1"
        Client.objects.filter(pk=client.pk).update(external_id="Moved-2")
        assert Client.objects.get(pk=client.pk).search_key == "BRAND NEW\nMOVED-2"
        # The audit records what was written, never the derived column.
        created = AuditEntry.objects.get(action="client.created", object_id=str(client.pk))
        assert sorted(created.after) == [
            "created_at",
            "ended_on",
            "external_id",
            "id",
            "name",
            "partner_id",
            "service_tier",
            "started_on",
            "status",
            "updated_at",
        ]
    viewer = portal_as(vendor_a, partner, "viewer")
    assert names(viewer.get(URL, {"q": "brand"}).content.decode()) == ["Brand New"]
    assert names(viewer.get(URL, {"q": "old"}).content.decode()) == []
    assert names(viewer.get(URL, {"q": "moved-2"}).content.decode()) == ["Brand New"]


def test_a_vendor_schema_cloned_from_the_template_has_the_column_and_the_index(vendor_a):
    """vendor_a was created like every vendor: its schema cloned from the template's."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT a.attgenerated, pg_get_expr(d.adbin, d.adrelid)
            FROM pg_attribute a
            JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
            WHERE a.attrelid = %s::regclass AND a.attname = 'search_key'
            """,
            [f'"{vendor_a.schema}".partners_client'],
        )
        generated = cursor.fetchone()
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes "
            "WHERE schemaname = %s AND tablename = 'partners_client' ORDER BY indexname",
            [vendor_a.schema],
        )
        indexes = dict(cursor.fetchall())
    assert generated == (
        "s",  # stored: computed when the row is written (Concat's COALESCEs are Django's)
        "upper(((COALESCE(name, ''::character varying))::text || COALESCE((COALESCE("
        "'\n'::text, ''::text) || (COALESCE(external_id, ''::character varying))::text), "
        "''::text)))",
    )
    assert indexes["client_partner_summary_idx"] == (
        f"CREATE INDEX client_partner_summary_idx ON {vendor_a.schema}.partners_client "
        "USING btree (partner_id, status, service_tier) INCLUDE (created_at, search_key)"
    )
    # Every index but ingest's lookup by external id starts with the partner, so the foreign key
    # needs none of its own.
    assert sorted(indexes) == [
        "client_external_id_idx",
        "client_external_id_unique_per_partner",
        "client_partner_created_idx",
        "client_partner_name_idx",
        "client_partner_summary_idx",
        "partners_client_pkey",
    ]


@pytest.fixture
def counted(vendor_a):
    """Twelve clients of one partner: status × tier × created day × name, all known."""
    partner = make_partner(vendor_a)
    rows = [
        # name, status, tier, created (day of March 2026, Berlin)
        ("Alpha Harbor", "active", "Gold", 1),
        ("Beta Harbor", "active", "Gold", 2),
        ("Gamma Harbor", "active", "Silver", 3),
        ("Delta", "active", "", 4),
        ("Epsilon Harbor", "trial", "Gold", 5),
        ("Zeta", "trial", "Silver", 6),
        ("Eta Harbor", "suspended", "", 7),
        ("Theta", "suspended", "Gold", 8),
        ("Iota Harbor", "nfr", "Silver", 9),
        ("Kappa", "churned", "Gold", 10),
        ("Lambda Harbor", "churned", "", 11),
        ("Mu", "active", "Gold", 12),
    ]
    with schema_context(vendor_a.schema):
        for n, (name, status, tier, day) in enumerate(rows):
            client = ClientFactory(
                partner=partner,
                name=name,
                external_id=f"K-{n}",
                status=status,
                service_tier=tier,
                ended_on=datetime.date(2026, 2, 1) if status == "churned" else None,
            )
            created = datetime.datetime(2026, 3, day, 12, tzinfo=BERLIN)
            Client.objects.filter(pk=client.pk).update(created_at=created)
    return portal_as(vendor_a, partner, "viewer")


@pytest.mark.parametrize(
    "params, count",
    [
        ({"q": "harbor"}, 7),
        ({"status": "active"}, 5),
        ({"service_tier": "Gold"}, 6),
        ({"q": "harbor", "status": "active"}, 3),
        ({"q": "harbor", "service_tier": "Gold", "status": "active"}, 2),
        ({"q": "harbor", "created_from": "2026-03-03", "created_to": "2026-03-09"}, 4),
        ({"created_from": "2026-03-10", "status": "churned"}, 2),
        # Filters that are not valid are left out of the list and of its count.
        ({"q": "harbor", "service_tier": "Platinum"}, 7),
        ({"q": "harbor", "status": "bogus"}, 7),
        ({"status": "nfr", "service_tier": "Gold"}, 0),
        ({"created_from": "2026-03-09", "created_to": "2026-03-01"}, 0),  # reversed: none
        ({"sort": "-created"}, 12),
    ],
)
def test_the_counts_are_those_of_the_filtered_list(counted, params, count):
    html = counted.get(URL, params).content.decode()
    assert len(names(html)) == count
    if params == {"sort": "-created"}:  # sorting filters nothing
        assert summary(html) == "12 clients."
    elif count:
        assert summary(html) == f"{count} clients matching the filters."
    else:
        assert summary(html) == "No clients match the filters."
    # The status buttons always count all of the partner's clients.
    nav = re.search(r'<nav class="status-counts".*?</nav>', html, re.S).group(0)
    assert re.findall(r'>([A-Za-z ]+) <span class="count">(\d+)</span>', nav) == [
        ("All", "12"),
        ("Trial", "2"),
        ("Active", "5"),
        ("Not for resale", "1"),
        ("Suspended", "2"),
        ("Churned", "2"),
    ]


def test_a_filtered_page_costs_the_same_queries_and_none_for_rows_that_are_not_there(counted):
    counted.get(URL)  # warm up (session, content types)
    plain, _ = count_queries(counted, URL)
    filters = {
        "q": "harbor",
        "status": "active",
        "service_tier": "Gold",
        "created_from": "2026-03-01",
        "created_to": "2026-03-31",
        "sort": "-created",
    }
    filtered, html = count_queries(counted, URL, filters)
    assert names(html) == ["Beta Harbor", "Alpha Harbor"]
    assert filtered == plain
    # Nothing matches: the counts say so, and no query asks for a page of rows.
    empty, html = count_queries(counted, URL, {"q": "nothing like it"})
    assert "No matching clients" in html and empty == plain - 1


def test_the_tier_filter_is_checked_once_the_tiers_are_known(vendor_a):
    partner = make_partner(vendor_a)
    with schema_context(vendor_a.schema):
        qs = Client.objects.filter(partner=partner)
        data = QueryDict("q=x&service_tier=Gold&status=trial")
        filterset = PortalClientFilter(data, queryset=qs, tz=BERLIN)
        # The search and the status are known good; the tier cannot be judged yet.
        assert len(filterset.conditions(without=["service_tier"])) == 2
        with pytest.raises(RuntimeError):
            filterset.conditions()
        filterset.set_service_tiers(["Silver"])
        assert filterset.form.errors == {
            "service_tier": ["Select a valid choice. Gold is not one of the available choices."]
        }
        assert "service_tier" not in filterset.form.cleaned_data
        assert len(filterset.conditions()) == 2  # search and status; the tier is left out
        valid = PortalClientFilter(data, queryset=qs, tz=BERLIN, service_tiers=["Gold"])
        assert valid.form.errors == {} and len(valid.conditions()) == 3


@pytest.mark.parametrize(
    "query, changes",
    [
        ("", {"status": None, "page": None}),
        ("", {"status": "trial", "page": None}),
        ("page=3", {"page": None}),
        ("page=3", {"status": None, "page": None}),
        ("q=a+b%26c&status=trial&page=2", {"status": "active", "page": None}),
        ("q=%C3%BC&sort=-name&q=second", {"page": 4}),
        ("status=trial&q=x", {"status": None, "page": None}),
        ("sort=name&page=2&q=x", {"page": None, "sort": "-created"}),
    ],
)
def test_query_links_are_what_the_querystring_tag_renders(query, changes):
    params = QueryDict(query)
    arguments = " ".join(f"{key}={key}" for key in changes)
    tag = Template("{% querystring params " + arguments + " %}").render(
        Context({**changes, "params": params}, autoescape=False)
    )
    assert QueryLinks(params).href(**changes) == tag
