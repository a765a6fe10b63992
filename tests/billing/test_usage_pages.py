"""Usage pages in the portal and the console: the usage page (this month per meter, recent
imports, upload form, template), upload → preview → import → progress, permissions (roles below
MANAGE_CLIENTS and console roles without import rights get 403 and change nothing; another
partner's imports and clients are 404 and leak nothing), the per-client usage page (daily charts
with the meters' aggregations, month selector, the running estimate) and the usage section of the
portal client page, with query counts that do not grow with meters, days or events."""

from __future__ import annotations

import calendar
import datetime
import re
from unittest import mock

import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import schema_context

from billing.ingest import ingest_batch
from billing.models import Meter, UsageEvent
from billing.models_invoicing import UsageImport
from billing.services.catalog import price_plan_create
from billing.services.subscriptions import subscription_create
from billing.tasks_usage import import_usage
from billing.usage_selectors import current_month, previous_month
from core.actors import Actor
from core.models import AuditEntry
from tests.factories import ClientFactory
from tests.partners.clients_support import body, portal_as
from tests.partners.program_fixtures import console_client

from .usage_support import CONSOLE_HEADER, HEADER, iso, make_world, this_month_start, valid_rows

pytestmark = pytest.mark.django_db

ACTOR = Actor.system("tests")
WHEN = "2026-01-15T10:00:00Z"
USAGE = "/portal/usage/"
UPLOAD = "/portal/usage/upload/"
CONSOLE_USAGE = "/console/usage/"
CONSOLE_UPLOAD = "/console/usage/upload/"


@pytest.fixture(autouse=True)
def stage_dir(settings, tmp_path):
    settings.USAGE_IMPORT_DIR = tmp_path / "usage-imports"
    return settings.USAGE_IMPORT_DIR


@pytest.fixture
def world(vendor_a):
    return make_world(vendor_a)


def csv_file(content: str, name: str = "usage.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content.encode(), content_type="text/csv")


def imports(tv) -> list[tuple]:
    with schema_context(tv.schema):
        return list(
            UsageImport.objects.order_by("id").values_list(
                "partner_id", "status", "total_rows", "processed_rows", "accepted", "rejected"
            )
        )


def ingest(tv, items: list[dict], partner_id: int | None = None):
    with schema_context(tv.schema):
        result = ingest_batch(items, caller_partner_id=partner_id)
        assert not result.rejected, result.rejected
        return result


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip()


def import_id(response) -> int:
    match = re.fullmatch(r"/(?:portal|console)/usage/imports/(\d+)/", response["Location"])
    assert match, response["Location"]
    return int(match[1])


PREVIEWED = (
    HEADER
    + f"p-1,ACME,api_calls,10,{WHEN},\n"
    + f"p-2,GLOBEX,storage_gb,12.5,{WHEN},\n"
    + f"p-3,ACME,api_calls,ten,{WHEN},\n"
    + f"p-4,BETA-ONLY,api_calls,1,{WHEN},\n"
    + f'p-5,ACME,devices,1,{WHEN},"{{""device_id"": ""d-9""}}"\n'
)


# ---- the portal: upload, preview, import, progress ---------------------------------------------


def test_a_technician_uploads_checks_and_imports_a_file(world, django_capture_on_commit_callbacks):
    tech = portal_as(world.tv, world.alpha, "technician")
    page = body(tech.get(USAGE))
    assert 'action="/portal/usage/upload/"' in page
    assert 'href="/portal/usage/template.csv"' in page

    response = tech.post(UPLOAD, {"file": csv_file(PREVIEWED, "alpha-march.csv")})
    assert response.status_code == 302
    pk = import_id(response)
    assert imports(world.tv) == [(world.alpha.pk, "previewed", 5, 0, 0, 2)]

    preview = body(tech.get(f"/portal/usage/imports/{pk}/"))
    text = text_of(preview)
    assert "5 rows: 3 valid, 2 with errors. Nothing is imported yet." in text
    assert "Import 3 valid rows" in text
    # The row errors: row number, column, message.
    assert re.findall(
        r'<tr data-row="(\d+)">\s*<td[^>]*>\d+</td>\s*<td[^>]*><code class="mono">([^<]*)</code>'
        r"</td>\s*<td[^>]*>([^<]*)</td>",
        preview,
    ) == [
        (
            "4",
            "quantity",
            "quantity must be a decimal number, e.g. 12.5 (no thousands separators, a dot for "
            "decimals).",
        ),
        ("5", "client", "No client &#x27;BETA-ONLY&#x27;."),
    ]
    # A sample of the valid rows, in the canonical column order.
    sample = re.findall(r'<tr data-row="(\d+)"><td class="num" data-label="Row">', preview)
    assert sample == ["2", "3", "6"]
    assert '<td class="mono">{&quot;device_id&quot;:&quot;d-9&quot;}</td>' in preview

    with (
        mock.patch.object(import_usage, "delay") as delay,
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = tech.post(f"/portal/usage/imports/{pk}/start/")
    assert response.status_code == 302
    delay.assert_called_once_with(pk)
    assert imports(world.tv) == [(world.alpha.pk, "queued", 5, 0, 0, 0)]

    # While it waits or runs, the progress block polls itself every second.
    progress = body(tech.get(f"/portal/usage/imports/{pk}/progress/", HTTP_HX_REQUEST="true"))
    assert f'hx-get="/portal/usage/imports/{pk}/progress/" hx-trigger="every 1s"' in progress
    assert '<progress class="progress" id="usage-import-bar"' in progress

    with schema_context(world.tv.schema):
        import_usage.apply(args=[pk])
    assert imports(world.tv) == [(world.alpha.pk, "done", 5, 5, 3, 2)]
    progress = body(tech.get(f"/portal/usage/imports/{pk}/progress/", HTTP_HX_REQUEST="true"))
    assert "hx-get" not in progress  # done: the polling stops
    assert 'value="100"' in progress and ">100%</output>" in progress
    assert (
        "5 of 5 rows processed: 3 new events stored, 0 duplicates (already reported), 2 rows "
        "with errors skipped." in text_of(progress)
    )
    assert '<tr data-row="5">' in progress  # the skipped rows are listed
    # The usage page lists it with its counts.
    listed = text_of(body(tech.get(USAGE)))
    assert "alpha-march.csv" in listed and "Done" in listed

    # The same file again: every valid row is a duplicate.
    response = tech.post(UPLOAD, {"file": csv_file(PREVIEWED, "again.csv")})
    again = import_id(response)
    tech.post(f"/portal/usage/imports/{again}/start/")
    with schema_context(world.tv.schema):
        import_usage.apply(args=[again])
        assert UsageImport.objects.get(pk=again).duplicates == 3
        assert UsageEvent.objects.count() == 3


@pytest.mark.parametrize(
    "content, message",
    [
        ("", "The submitted file is empty."),
        (HEADER, "The file has a header row but no usage rows."),
        (
            "name,external_id,status,service_tier,started_on\nA,B,active,,2026-01-01\n",
            "The header row must be event_id,client,meter,quantity,timestamp[,properties] "
            "(missing event_id, client, meter, quantity, timestamp; unknown name, external_id, "
            "status, service_tier, started_on).",
        ),
        (CONSOLE_HEADER, "The header row must be event_id,client,meter,quantity,timestamp"),
    ],
)
def test_unusable_files_get_a_readable_message_and_nothing_is_kept(
    world, stage_dir, content, message
):
    tech = portal_as(world.tv, world.alpha, "technician")
    response = tech.post(UPLOAD, {"file": csv_file(content)})
    assert response.status_code == 200
    assert message in text_of(body(response)).replace("&quot;", '"')
    assert imports(world.tv) == []
    assert [p for p in stage_dir.rglob("*") if p.is_file()] == []


def test_a_file_over_the_limit_is_refused(world, settings):
    settings.USAGE_IMPORT_MAX_BYTES = 1024
    tech = portal_as(world.tv, world.alpha, "technician")
    page = text_of(body(tech.get(USAGE)))
    assert "at most 1 KB" in page
    response = tech.post(UPLOAD, {"file": csv_file(HEADER + valid_rows(40, when=WHEN))})
    assert response.status_code == 200
    assert "The file is larger than 1 KB; split it into smaller files." in body(response)
    assert imports(world.tv) == []


def test_a_big_file_is_checked_in_the_background_and_the_page_reloads_when_done(
    world, settings, django_capture_on_commit_callbacks
):
    settings.USAGE_IMPORT_INLINE_CHECK_BYTES = 1024
    tech = portal_as(world.tv, world.alpha, "technician")
    with (
        mock.patch.object(import_usage, "delay") as delay,
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = tech.post(UPLOAD, {"file": csv_file(HEADER + valid_rows(300, when=WHEN))})
    pk = import_id(response)
    delay.assert_called_once_with(pk)
    page = body(tech.get(f"/portal/usage/imports/{pk}/"))
    assert "Checking the file" in page
    assert f'hx-get="/portal/usage/imports/{pk}/progress/"' in page
    assert "Import 300" not in page
    with schema_context(world.tv.schema):
        import_usage.apply(args=[pk])
    response = tech.get(f"/portal/usage/imports/{pk}/progress/", HTTP_HX_REQUEST="true")
    assert response["HX-Refresh"] == "true"
    assert "Import 300 valid rows" in text_of(body(tech.get(f"/portal/usage/imports/{pk}/")))


def test_the_template_csv(world):
    viewer = portal_as(world.tv, world.alpha, "viewer")
    response = viewer.get("/portal/usage/template.csv")
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="usage-template.csv"'
    assert body(response).splitlines() == [
        "event_id,client,meter,quantity,timestamp,properties",
        "evt-2026-03-0001,CONTOSO-001,storage_gb,12.5,2026-03-01T09:00:00Z,",
        'evt-2026-03-0002,CONTOSO-001,devices,1,2026-03-01T09:00:00+01:00,"{""device_id"": '
        '""dev-42""}"',
    ]
    console = console_client(world.tv, "analyst")
    assert body(console.get("/console/usage/template.csv")).splitlines()[0] == (
        "event_id,partner,client,meter,quantity,timestamp,properties"
    )


# ---- permissions and isolation ----------------------------------------------------------------


def staged(tv, partner, content: str = PREVIEWED) -> UsageImport:
    from billing.services.usage_imports import usage_import_stage

    with schema_context(tv.schema):
        return usage_import_stage(
            upload=csv_file(content), partner=partner, actor=Actor.system("tests")
        )


@pytest.mark.parametrize("role", ["viewer", "billing"])
def test_roles_without_manage_clients_read_but_cannot_upload_start_or_discard(world, role):
    usage_import = staged(world.tv, world.alpha)
    user = portal_as(world.tv, world.alpha, role)
    page = body(user.get(USAGE))
    assert 'action="/portal/usage/upload/"' not in page
    preview = body(user.get(f"/portal/usage/imports/{usage_import.pk}/"))
    assert "Import 3 valid rows" not in preview and "Discard" not in preview
    before = imports(world.tv)
    with schema_context(world.tv.schema):
        audit_before = AuditEntry.objects.count()
    refused = [
        user.get(UPLOAD),
        user.post(UPLOAD, {"file": csv_file(PREVIEWED)}),
        user.post(f"/portal/usage/imports/{usage_import.pk}/start/"),
        user.post(f"/portal/usage/imports/{usage_import.pk}/discard/"),
    ]
    assert [r.status_code for r in refused] == [403] * 4
    assert imports(world.tv) == before
    with schema_context(world.tv.schema):
        assert AuditEntry.objects.count() == audit_before
        assert UsageEvent.objects.count() == 0


def test_another_partners_imports_and_clients_are_404_and_nothing_changes(world):
    theirs = staged(world.tv, world.beta, HEADER + f"b-1,BETA-ONLY,api_calls,1,{WHEN},\n")
    ingest(
        world.tv,
        [
            {
                "event_id": "beta-secret",
                "client": "BETA-ONLY",
                "meter": "api_calls",
                "quantity": "77777",
                "timestamp": iso(this_month_start(world.tv) + datetime.timedelta(seconds=5)),
            }
        ],
        partner_id=world.beta.pk,
    )
    owner = portal_as(world.tv, world.alpha, "owner")
    before = imports(world.tv)
    answers = [
        owner.get(f"/portal/usage/imports/{theirs.pk}/"),
        owner.get(f"/portal/usage/imports/{theirs.pk}/progress/"),
        owner.post(f"/portal/usage/imports/{theirs.pk}/start/"),
        owner.post(f"/portal/usage/imports/{theirs.pk}/discard/"),
        owner.get(f"/portal/clients/{world.beta_only.pk}/usage/"),
    ]
    assert [r.status_code for r in answers] == [404] * 5
    assert imports(world.tv) == before
    page = body(owner.get(USAGE))
    assert "77777" not in page and "77,777" not in page  # Beta's usage is not in Alpha's total
    assert f'data-import="{theirs.pk}"' not in page


def test_console_roles_read_everything_and_only_importers_upload(world):
    partner_import = staged(world.tv, world.alpha)
    analyst = console_client(world.tv, "analyst")
    page = body(analyst.get(CONSOLE_USAGE))
    assert f'data-import="{partner_import.pk}"' in page
    assert "Alpha IT" in page  # the partner column
    assert 'action="/console/usage/upload/"' not in page
    assert analyst.get(f"/console/usage/imports/{partner_import.pk}/").status_code == 200
    before = imports(world.tv)
    refused = [
        analyst.post(CONSOLE_UPLOAD, {"file": csv_file(CONSOLE_HEADER)}),
        analyst.post(f"/console/usage/imports/{partner_import.pk}/start/"),
    ]
    assert [r.status_code for r in refused] == [403, 403]
    # A partner's own import is never started or discarded from the console.
    finance = console_client(world.tv, "finance")
    preview = body(finance.get(f"/console/usage/imports/{partner_import.pk}/"))
    assert "Import 3 valid rows" not in preview
    assert finance.post(f"/console/usage/imports/{partner_import.pk}/start/").status_code == 404
    assert imports(world.tv) == before
    # Partner users are not console users.
    assert portal_as(world.tv, world.alpha, "owner").get(CONSOLE_USAGE).status_code == 403


def test_finance_imports_a_console_file_naming_partners(world):
    finance = console_client(world.tv, "finance")
    content = (
        CONSOLE_HEADER
        + f"c-1,P-ALPHA,ACME,api_calls,1,{WHEN},\n"
        + f"c-2,P-BETA,ACME,api_calls,2,{WHEN},\n"
        + f"c-3,,ACME,api_calls,3,{WHEN},\n"
    )
    response = finance.post(CONSOLE_UPLOAD, {"file": csv_file(content, "all.csv")})
    pk = import_id(response)
    preview = text_of(body(finance.get(f"/console/usage/imports/{pk}/")))
    assert "3 rows: 2 valid, 1 with errors." in preview
    assert "partner is required" in preview
    assert finance.post(f"/console/usage/imports/{pk}/start/").status_code == 302
    with schema_context(world.tv.schema):
        import_usage.apply(args=[pk])
        assert sorted(UsageEvent.objects.values_list("event_id", "client_id")) == [
            ("c-1", world.acme.pk),
            ("c-2", world.beta_acme.pk),
        ]
    assert imports(world.tv) == [(None, "done", 3, 3, 2, 1)]
    # Discarding: only a previewed console upload.
    other = import_id(finance.post(CONSOLE_UPLOAD, {"file": csv_file(content, "x.csv")}))
    assert finance.post(f"/console/usage/imports/{other}/discard/").status_code == 302
    assert [row[1] for row in imports(world.tv)] == ["done"]


# ---- this month per meter -----------------------------------------------------------------------


def this_month_events(world) -> None:
    start = this_month_start(world.tv)
    t1 = iso(start + datetime.timedelta(seconds=1))
    t2 = iso(start + datetime.timedelta(seconds=2))
    ingest(
        world.tv,
        [
            {
                "event_id": "m1",
                "client": "ACME",
                "meter": "storage_gb",
                "quantity": "10",
                "timestamp": t1,
            },
            {
                "event_id": "m2",
                "client": "ACME",
                "meter": "storage_gb",
                "quantity": "40",
                "timestamp": t2,
            },
            {
                "event_id": "m3",
                "client": "GLOBEX",
                "meter": "storage_gb",
                "quantity": "25",
                "timestamp": t1,
            },
            {
                "event_id": "m4",
                "client": "ACME",
                "meter": "api_calls",
                "quantity": "1.5",
                "timestamp": t1,
            },
            {
                "event_id": "m5",
                "client": "ACME",
                "meter": "api_calls",
                "quantity": "2",
                "timestamp": t2,
            },
            {
                "event_id": "m6",
                "client": "ACME",
                "meter": "devices",
                "quantity": "1",
                "timestamp": t1,
                "properties": {"device_id": "a"},
            },
            {
                "event_id": "m7",
                "client": "ACME",
                "meter": "devices",
                "quantity": "1",
                "timestamp": t2,
                "properties": {"device_id": "a"},
            },
            {
                "event_id": "m8",
                "client": "GLOBEX",
                "meter": "devices",
                "quantity": "1",
                "timestamp": t2,
                "properties": {"device_id": "a"},
            },
        ],
        partner_id=world.alpha.pk,
    )
    # Beta's usage never counts for Alpha.
    ingest(
        world.tv,
        [
            {
                "event_id": "b1",
                "client": "BETA-ONLY",
                "meter": "storage_gb",
                "quantity": "900",
                "timestamp": t1,
            }
        ],
        partner_id=world.beta.pk,
    )


def summary_rows(html: str) -> dict[str, str]:
    return dict(
        re.findall(r'<tr data-meter="([^"]+)">.*?<span data-quantity>([^<]+)</span>', html, re.S)
    )


def test_the_usage_page_sums_each_clients_month_figure_per_meter(world):
    this_month_events(world)
    page = body(portal_as(world.tv, world.alpha, "viewer").get(USAGE))
    # storage (max): ACME 40 + GLOBEX 25; calls (sum): 3.5; devices (distinct per client): 1 + 1.
    assert summary_rows(page) == {"api_calls": "3.5", "devices": "2", "storage_gb": "65"}
    analyst = console_client(world.tv, "analyst")
    console = body(analyst.get(CONSOLE_USAGE))
    assert summary_rows(console) == {"api_calls": "3.5", "devices": "2", "storage_gb": "965"}
    # The vendor-wide figures (a scan of the whole month) are kept for a minute.
    ingest(
        world.tv,
        [
            {
                "event_id": "late",
                "client": "GLOBEX",
                "meter": "api_calls",
                "quantity": "10",
                "timestamp": iso(this_month_start(world.tv) + datetime.timedelta(seconds=3)),
            }
        ],
        partner_id=world.alpha.pk,
    )
    assert summary_rows(body(analyst.get(CONSOLE_USAGE)))["api_calls"] == "3.5"
    assert (
        summary_rows(body(portal_as(world.tv, world.alpha, "viewer").get(USAGE)))["api_calls"]
        == "13.5"
    )  # a partner's own figures are always fresh
    cache.clear()
    assert summary_rows(body(analyst.get(CONSOLE_USAGE)))["api_calls"] == "13.5"


# ---- one client's usage -------------------------------------------------------------------------


def last_month_events(world, *, days: int = 3, meters: list[str] | None = None) -> datetime.date:
    with schema_context(world.tv.schema):
        month = previous_month(current_month())
    items = []
    for day in range(1, days + 1):
        for code in meters or ["storage_gb", "api_calls", "devices"]:
            for n in range(2):
                items.append(
                    {
                        "event_id": f"{code}-{day}-{n}",
                        "client": "ACME",
                        "meter": code,
                        "quantity": str(day * 10 + n),
                        # Late evening in Berlin stays on its day of the vendor's calendar.
                        "timestamp": f"{month:%Y-%m}-{day:02d}T{'10' if n else '22'}:30:00+01:00",
                        "properties": {"device_id": f"dev-{n}"},
                    }
                )
    ingest(world.tv, items, partner_id=world.alpha.pk)
    return month


def test_the_client_usage_page_charts_each_meter_by_day_with_its_aggregation(world):
    month = last_month_events(world)
    viewer = portal_as(world.tv, world.alpha, "viewer")
    page = body(viewer.get(f"/portal/clients/{world.acme.pk}/usage/?month={month:%Y-%m}"))
    # Month figures: storage max 31, calls sum (10+11+20+21+30+31) = 123, devices distinct 2.
    sections = dict(
        re.findall(
            r'<section class="card section"[^>]*data-meter="([^"]+)">.*?<span data-quantity>'
            r"([^<]+)</span>",
            page,
            re.S,
        )
    )
    assert sections == {"storage_gb": "31", "api_calls": "123", "devices": "2"}
    # One bar per day with usage, each with its exact figure in a <title>.
    bars = re.findall(r'<rect [^>]*data-day="([\d-]+)"><title>([^<]+)</title>', page)
    day = lambda n: month.replace(day=n)  # noqa: E731
    label = lambda n: f"{n} {day(n):%b %Y}"  # noqa: E731
    assert bars == [  # the meters in code order
        (f"{day(1):%Y-%m-%d}", f"{label(1)}: 21 call"),
        (f"{day(2):%Y-%m-%d}", f"{label(2)}: 41 call"),
        (f"{day(3):%Y-%m-%d}", f"{label(3)}: 61 call"),
        (f"{day(1):%Y-%m-%d}", f"{label(1)}: 2 device"),
        (f"{day(2):%Y-%m-%d}", f"{label(2)}: 2 device"),
        (f"{day(3):%Y-%m-%d}", f"{label(3)}: 2 device"),
        (f"{day(1):%Y-%m-%d}", f"{label(1)}: 11 GB"),
        (f"{day(2):%Y-%m-%d}", f"{label(2)}: 21 GB"),
        (f"{day(3):%Y-%m-%d}", f"{label(3)}: 31 GB"),
    ]
    assert 'role="img"' in page and "<desc id=" in page
    # The table fallback has every day of the month.
    rows = re.findall(r'<th scope="row" class="nowrap"><time datetime="([\d-]+)">', page)
    assert len(rows) == 3 * calendar.monthrange(month.year, month.month)[1]
    # The month selector offers this month back to the chosen one, the chosen one selected.
    assert f'<option value="{month:%Y-%m}" selected>' in page
    # Not the current month: no estimate card.
    assert 'id="client-estimate"' not in page


def test_the_client_usage_page_is_the_same_in_the_console(world):
    month = last_month_events(world, days=1, meters=["api_calls"])
    page = body(
        console_client(world.tv, "support").get(
            f"/console/clients/{world.acme.pk}/usage/?month={month:%Y-%m}"
        )
    )
    assert "Alpha IT's client, day by day per meter." in page
    assert re.findall(r'data-meter="api_calls">.*?<span data-quantity>([^<]+)<', page, re.S) == [
        "21"
    ]


def test_client_usage_queries_do_not_grow_with_meters_days_or_events(world):
    viewer = portal_as(world.tv, world.alpha, "viewer")
    month = last_month_events(world, days=1, meters=["api_calls"])
    url = f"/portal/clients/{world.acme.pk}/usage/"

    def queries(query: str) -> int:
        with CaptureQueriesContext(connection) as captured:
            assert viewer.get(url + query).status_code == 200
        return len(captured)

    queries("")  # the first request of a session does more (e.g. it records the sign-in)
    small_past, small_now = queries(f"?month={month:%Y-%m}"), queries("")
    with schema_context(world.tv.schema):
        for n in range(5):
            Meter.objects.create(code=f"extra_{n}", name=f"Extra {n}", unit="u", aggregation="sum")
    ingest(
        world.tv,
        [
            {
                "event_id": f"x-{n}-{d}",
                "client": "ACME",
                "meter": f"extra_{n}",
                "quantity": "1",
                "timestamp": f"{month:%Y-%m}-{d:02d}T12:00:00Z",
            }
            for n in range(5)
            for d in range(1, 20)
        ],
        partner_id=world.alpha.pk,
    )
    last_month_events(world, days=9)
    assert queries(f"?month={month:%Y-%m}") == small_past
    assert queries("") == small_now


def test_the_estimate_card_shows_this_months_running_estimate(world):
    this_month_events(world)
    with schema_context(world.tv.schema):
        plan = price_plan_create(
            code="calls",
            name="Calls",
            currency="EUR",
            actor=ACTOR,
            charges=[{"meter": "api_calls", "model": "per_unit", "unit_price": "0.10"}],
        )
        subscription_create(
            client=world.acme,
            price_plan=plan,
            quantity=1,
            started_on=current_month(),
            actor=ACTOR,
        )
    viewer = portal_as(world.tv, world.alpha, "viewer")
    page = body(viewer.get(f"/portal/clients/{world.acme.pk}/usage/"))
    # 3.5 calls × 0.10 = 0.35 (no tier discount).
    assert re.findall(r"<strong data-estimate-net[^>]*>([^<]+)</strong>", page) == ["€0.35"]
    globex = body(viewer.get(f"/portal/clients/{world.globex.pk}/usage/"))
    assert "Nothing is billed for this client this month so far" in globex
    # The client page's usage section: this month's quantities, the estimate, the link.
    detail = body(viewer.get(f"/portal/clients/{world.acme.pk}/"))
    section = detail[detail.index('id="client-usage"') :]
    assert summary_rows(section) == {"api_calls": "3.5", "devices": "1", "storage_gb": "40"}
    assert "€0.35" in section
    assert f'href="/portal/clients/{world.acme.pk}/usage/"' in section


def test_the_client_usage_page_of_an_unknown_or_foreign_client_is_404(world):
    owner = portal_as(world.tv, world.alpha, "owner")
    with schema_context(world.tv.schema):
        missing = ClientFactory(partner=world.beta).pk + 1000
    assert owner.get(f"/portal/clients/{missing}/usage/").status_code == 404
    response = owner.get(f"/portal/clients/{world.beta_acme.pk}/usage/")
    assert response.status_code == 404
    assert "Beta Acme" not in body(response)
    assert (
        console_client(world.tv, "analyst").get(f"/console/clients/{missing}/usage/").status_code
        == 404
    )


def test_usage_and_import_pages_keep_a_constant_number_of_queries(world):
    owner = portal_as(world.tv, world.alpha, "owner")
    staged(world.tv, world.alpha)

    def queries(client, url: str) -> int:
        cache.clear()  # the vendor-wide summary is cached for a minute: count its queries too
        with CaptureQueriesContext(connection) as captured:
            assert client.get(url).status_code == 200
        return len(captured)

    console = console_client(world.tv, "finance")
    queries(owner, USAGE), queries(console, CONSOLE_USAGE)  # first requests of the sessions
    first = (queries(owner, USAGE), queries(console, CONSOLE_USAGE))
    this_month_events(world)
    for _ in range(4):
        staged(world.tv, world.alpha)
        staged(world.tv, world.beta, HEADER + f"b,BETA-ONLY,api_calls,1,{WHEN},\n")
    assert (queries(owner, USAGE), queries(console, CONSOLE_USAGE)) == first

    # An import's page: its preview re-checks a sample of rows in a constant number of queries.
    with schema_context(world.tv.schema):
        for n in range(30):
            ClientFactory(partner=world.alpha, external_id=f"MANY-{n}")
    small = staged(world.tv, world.alpha)
    big = staged(
        world.tv,
        world.alpha,
        HEADER
        + "".join(f"m-{n},MANY-{n % 30},api_calls,1,{WHEN},\n" for n in range(900))
        + f"x,NOBODY,api_calls,1,{WHEN},\n",
    )
    assert queries(owner, f"/portal/usage/imports/{small.pk}/") == queries(
        owner, f"/portal/usage/imports/{big.pk}/"
    )
