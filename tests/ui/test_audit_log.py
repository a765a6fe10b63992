"""/console/audit-log/: who may read it, exact filtering, htmx fragments, constant query count."""

from __future__ import annotations

import datetime
import re
import zoneinfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import schema_context

from accounts.enums import VendorRole
from core.models import AuditEntry

from .conftest import login, make_user

pytestmark = pytest.mark.django_db

BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")  # vendor A's time zone
URL = "/console/audit-log/"


def add_entry(
    tv,
    *,
    action: str,
    at: datetime.datetime,
    actor: str = "admin@vendor-a.example",
    actor_kind: str = "user",
    object_type: str = "partners.partner",
    object_id: str = "1",
    before: dict | None = None,
    after: dict | None = None,
) -> AuditEntry:
    with schema_context(tv.schema):
        entry = AuditEntry.objects.create(
            actor_kind=actor_kind,
            actor_label=actor,
            ip="192.0.2.7",
            action=action,
            object_type=object_type,
            object_id=object_id,
            object_repr=f"{object_type} {object_id}",
            before=before,
            after=after,
            request_id="req-1",
        )
        # `at` is auto_now_add; set the moment the test needs.
        AuditEntry.objects.filter(pk=entry.pk).update(at=at)
        entry.refresh_from_db()
        return entry


@pytest.fixture
def entries(vendor_a) -> dict[str, AuditEntry]:
    def at(day: int, hour: int) -> datetime.datetime:
        return datetime.datetime(2026, 3, day, hour, 0, tzinfo=BERLIN)

    return {
        "created": add_entry(
            vendor_a,
            action="partner.created",
            at=at(1, 9),
            after={"name": "Acme IT", "status": "applied"},
        ),
        "renamed": add_entry(
            vendor_a,
            action="partner.updated",
            at=at(2, 10),
            before={"name": "Acme IT"},
            after={"name": "Acme IT GmbH"},
        ),
        "key": add_entry(
            vendor_a,
            action="api_key.created",
            at=at(3, 0),  # 00:00 Berlin = 23:00 UTC the day before
            actor="API key sync",
            actor_kind="api_key",
            object_type="accounts.apikey",
            object_id="7",
            after={"name": "sync", "scope": "vendor"},
        ),
        "suspended": add_entry(
            vendor_a,
            action="partner.updated",
            at=at(3, 23),
            actor="cm@vendor-a.example",
            before={"status": "active", "tax_rate": "19.00"},
            after={"status": "suspended", "tax_rate": "19.00"},
        ),
    }


def shown_ids(response) -> list[int]:
    return [e.pk for e in response.context["entries"]]


@pytest.fixture
def admin_client(client_a, vendor_a):
    with schema_context(vendor_a.schema):
        from accounts.models import User

        admin = User.objects.get(email=vendor_a.admin_email)
    login(client_a, vendor_a, admin)
    return client_a


def test_anonymous_is_sent_to_login(client_a):
    response = client_a.get(URL)
    assert response.status_code == 302
    assert response["Location"] == f"/accounts/login/?next={URL}"


@pytest.mark.parametrize(
    ("role", "status"),
    [
        (VendorRole.ADMIN, 200),
        (VendorRole.ANALYST, 200),
        (VendorRole.CHANNEL_MANAGER, 403),
        (VendorRole.FINANCE, 403),
        (VendorRole.SUPPORT, 403),
        ("", 403),  # a partner user
    ],
)
def test_only_admins_and_analysts(client_a, vendor_a, entries, role, status):
    user = make_user(vendor_a, f"u-{role or 'partner'}@vendor-a.example", role)
    login(client_a, vendor_a, user)
    response = client_a.get(URL)
    assert response.status_code == status
    if status == 403:
        assert "partner.created" not in response.content.decode()


def test_unfiltered_lists_everything_newest_first(admin_client, vendor_a, entries):
    response = admin_client.get(URL)
    assert response.status_code == 200
    e = entries
    with schema_context(vendor_a.schema):
        total = AuditEntry.objects.count()
    assert total == 4
    assert shown_ids(response) == [
        e["suspended"].pk,
        e["key"].pk,
        e["renamed"].pk,
        e["created"].pk,
    ]
    html = response.content.decode()
    assert "4 entries." in html
    # Times are shown in the vendor's time zone.
    assert '<time datetime="2026-03-03T00:00:00+01:00">2026-03-03 00:00:00</time>' in html
    assert '<span class="badge badge-neutral">API key</span>' in html
    # The filter form offers the values present in the log.
    assert '<option value="api_key.created">api_key.created</option>' in html
    assert '<option value="accounts.apikey">accounts.apikey</option>' in html


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"action": "partner.updated"}, ["suspended", "renamed"]),
        ({"object_type": "accounts.apikey"}, ["key"]),
        ({"actor": "CM@VENDOR"}, ["suspended"]),
        ({"actor": "api key"}, ["key"]),
        ({"date_from": "2026-03-03"}, ["suspended", "key"]),
        ({"date_to": "2026-03-02"}, ["renamed", "created"]),
        ({"date_from": "2026-03-02", "date_to": "2026-03-02"}, ["renamed"]),
        ({"action": "partner.updated", "date_to": "2026-03-02"}, ["renamed"]),
        ({"action": "partner.created", "actor": "cm@"}, []),
    ],
)
def test_filters_return_exact_rows(admin_client, entries, query, expected):
    response = admin_client.get(URL, query)
    assert response.status_code == 200
    assert shown_ids(response) == [entries[name].pk for name in expected]


def test_reversed_date_range_is_a_readable_error(admin_client, entries):
    response = admin_client.get(URL, {"date_from": "2026-03-03", "date_to": "2026-03-01"})
    assert response.status_code == 200
    assert shown_ids(response) == []
    assert "The “to” date is before the “from” date." in response.content.decode()


def test_unknown_choice_is_reported_and_ignored(admin_client, entries):
    response = admin_client.get(URL, {"action": "nope"})
    html = response.content.decode()
    assert "Select a valid choice. nope is not one of the available choices." in html
    assert len(shown_ids(response)) == 4


def test_rows_expand_to_a_diff(admin_client, entries):
    html = admin_client.get(URL, {"action": "partner.updated"}).content.decode()
    pk = entries["suspended"].pk
    assert f'data-expand aria-expanded="false" aria-controls="audit-{pk}-detail"' in html
    detail = re.search(
        rf'<tr id="audit-{pk}-detail" class="audit-detail" hidden>.*?</tr>\s*</tbody>\s*</table>',
        html,
        re.S,
    )
    assert detail, "detail row missing"
    rows = re.findall(
        r'<th scope="row">(\w+)</th>\s*'
        r'<td class="([\w-]+)">([^<]*)</td>\s*<td class="([\w-]+)">([^<]*)</td>',
        detail.group(0),
    )
    assert rows == [
        ("status", "diff-before", "active", "diff-after", "suspended"),
        ("tax_rate", "diff-before", "19.00", "diff-after", "19.00"),
    ]


def test_created_entry_shows_only_after(admin_client, entries):
    html = admin_client.get(URL, {"action": "partner.created"}).content.decode()
    assert re.findall(
        r'<td class="diff-absent">—</td>\s*<td class="diff-after">([^<]*)</td>', html
    ) == [
        "Acme IT",
        "applied",
    ]


def test_htmx_request_gets_only_the_results(admin_client, entries):
    response = admin_client.get(URL, {"action": "partner.created"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    html = response.content.decode()
    assert "<html" not in html
    assert '<form class="filters"' not in html
    assert '<p id="audit-summary" hx-swap-oob="innerHTML">' in html
    assert "1 entry matching the filters." in html
    assert shown_ids(response) == [entries["created"].pk]
    assert "HX-Request" in response["Vary"]


def test_htmx_history_restore_gets_the_whole_page(admin_client, entries):
    response = admin_client.get(URL, HTTP_HX_REQUEST="true", HTTP_HX_HISTORY_RESTORE_REQUEST="true")
    assert "<html" in response.content.decode()


def test_filter_form_drives_htmx(admin_client, entries):
    html = admin_client.get(URL).content.decode()
    form = re.search(r'<form class="filters".*?>', html, re.S).group(0)
    assert f'hx-get="{URL}"' in form
    assert 'hx-target="#audit-results"' in form
    assert 'hx-push-url="true"' in form
    assert "change" in form


def test_pagination_keeps_filters(admin_client, vendor_a):
    start = datetime.datetime(2026, 1, 1, 12, tzinfo=datetime.UTC)
    for i in range(55):
        add_entry(vendor_a, action="bulk.touched", at=start + datetime.timedelta(minutes=i))
    add_entry(vendor_a, action="other.thing", at=start)
    first = admin_client.get(URL, {"action": "bulk.touched"})
    assert len(shown_ids(first)) == 50
    html = first.content.decode()
    assert "Entries 1–50 of 55 matching the filters." in html
    assert 'href="?action=bulk.touched&amp;page=2"' in html
    second = admin_client.get(URL, {"action": "bulk.touched", "page": "2"})
    assert len(shown_ids(second)) == 5
    assert "Entries 51–55 of 55 matching the filters." in second.content.decode()


def test_empty_log_has_an_empty_state(admin_client):
    html = admin_client.get(URL).content.decode()
    assert "Nothing recorded yet" in html
    assert "The audit log is empty." in html


def test_query_count_does_not_grow_with_rows(admin_client, vendor_a, django_assert_max_num_queries):
    start = datetime.datetime(2026, 1, 1, 12, tzinfo=datetime.UTC)
    for i in range(3):
        add_entry(vendor_a, action=f"a.{i}", at=start, after={"n": i})
    with CaptureQueriesContext(connection) as few:
        assert admin_client.get(URL).status_code == 200
    for i in range(3, 60):
        add_entry(vendor_a, action=f"a.{i % 7}", object_type=f"t.{i % 5}", at=start, after={"n": i})
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = admin_client.get(URL)
    assert len(shown_ids(response)) == 50
    # And only a handful at all: routing, session, user, OTP devices, the two filter choice
    # lists, count, rows (10 today; some slack for middleware other apps may add).
    assert len(few.captured_queries) <= 15
