"""POST /api/v1/usage-events/: exact per-item and problem+json errors, valid items kept beside bad
ones, idempotency by event_id (twice in a row, twice in a batch, and from concurrent threads),
partner keys confined to their own clients, a constant number of queries per batch."""

from __future__ import annotations

import datetime
import json
import os
import subprocess
import sys
import threading
from decimal import Decimal
from pathlib import Path

import orjson
import pytest
from django.db import connection, connections
from django.db.models.fields.json import KeyTextTransform
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_tenants.utils import schema_context

from billing.enums import Aggregation
from billing.ingest import ingest_batch
from billing.models import Meter, UsageEvent
from core.api.problems import PROBLEM_CONTENT_TYPE
from partners.models import Client, Partner
from tests.committed import committed
from tests.conftest import host_client, make_api_key
from tests.factories import ClientFactory, PartnerFactory

pytestmark = pytest.mark.django_db

NOW = datetime.datetime(2026, 3, 15, 14, 0, tzinfo=datetime.UTC)
URL = "/api/v1/usage-events/"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def world(vendor_a, monkeypatch):
    monkeypatch.setattr(timezone, "now", lambda: NOW)
    with schema_context(vendor_a.schema):
        alpha = PartnerFactory(name="Alpha IT", external_id="P-ALPHA")
        beta = PartnerFactory(name="Beta IT", external_id="P-BETA")
        acme = ClientFactory(partner=alpha, external_id="ACME")
        # The same external_id under another partner: `partner` tells them apart.
        beta_acme = ClientFactory(partner=beta, external_id="ACME")
        storage = Meter.objects.create(
            code="storage_gb", name="Storage", unit="GB", aggregation=Aggregation.MAX
        )
        calls = Meter.objects.create(
            code="api_calls", name="API calls", unit="call", aggregation=Aggregation.SUM
        )
    vendor_key = make_api_key(vendor_a, name="vendor integration")
    alpha_key = make_api_key(vendor_a, name="alpha rmm", partner_id=alpha.pk)
    return {
        "tv": vendor_a,
        "alpha": alpha,
        "beta": beta,
        "acme": acme,
        "beta_acme": beta_acme,
        "storage": storage,
        "calls": calls,
        "vendor": host_client(vendor_a.host, HTTP_AUTHORIZATION=f"Bearer {vendor_key}"),
        "partner": host_client(vendor_a.host, HTTP_AUTHORIZATION=f"Bearer {alpha_key}"),
    }


def event(n: int | str = 1, **overrides) -> dict:
    body = {
        "event_id": f"evt-{n}",
        "client": "ACME",
        "partner": "P-ALPHA",
        "meter": "storage_gb",
        "quantity": "12.5",
        "timestamp": "2026-03-15T14:00:00Z",
        "properties": {"device_id": "dev-42"},
    }
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not ...}


def post(client, body, **extra):
    data = body if isinstance(body, (bytes, str)) else orjson.dumps(body)
    return client.post(URL, data, content_type="application/json", **extra)


def stored(tv) -> list[tuple]:
    with schema_context(tv.schema):
        return list(
            UsageEvent.objects.order_by("event_id").values_list(
                "event_id",
                "partner_id",
                "client_id",
                "meter_id",
                "quantity",
                "timestamp",
                "properties",
            )
        )


def problem(response, status: int) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == PROBLEM_CONTENT_TYPE
    return response.json()


def test_one_event_is_stored_exactly(world):
    response = post(world["vendor"], event())
    assert response.status_code == 200, response.content
    assert response.json() == {"accepted": 1, "duplicates": 0, "rejected": []}
    assert stored(world["tv"]) == [
        (
            "evt-1",
            world["alpha"].pk,
            world["acme"].pk,
            world["storage"].pk,
            Decimal("12.500000"),
            NOW,
            {"device_id": "dev-42"},
        )
    ]
    with schema_context(world["tv"].schema):
        assert UsageEvent.objects.get().received_at is not None


def test_partner_by_id_integers_offsets_and_other_partners_same_external_id(world):
    batch = [
        event(1, partner=world["beta"].pk, quantity=7, properties=...),
        event(2, partner=str(world["alpha"].pk), timestamp="2026-03-15T16:04:59+02:00"),
        event(3, quantity="0", meter="api_calls", properties=None),
    ]
    response = post(world["vendor"], batch)
    assert response.json() == {"accepted": 3, "duplicates": 0, "rejected": []}
    rows = stored(world["tv"])
    assert [(r[0], r[1], r[2], r[4], r[5], r[6]) for r in rows] == [
        ("evt-1", world["beta"].pk, world["beta_acme"].pk, Decimal("7"), NOW, {}),
        (
            "evt-2",
            world["alpha"].pk,
            world["acme"].pk,
            Decimal("12.5"),
            NOW + datetime.timedelta(minutes=4, seconds=59),
            {"device_id": "dev-42"},
        ),
        ("evt-3", world["alpha"].pk, world["acme"].pk, Decimal("0"), NOW, {}),
    ]


BAD_ITEMS = [
    (
        {"client": "NOPE"},
        [
            {
                "field": "client",
                "code": "not_found",
                "message": "No client 'NOPE' of partner 'P-ALPHA'.",
            }
        ],
    ),
    (
        {"meter": "nope"},
        [{"field": "meter", "code": "not_found", "message": "No meter with code 'nope'."}],
    ),
    (
        {"partner": "P-NOBODY"},
        [
            {
                "field": "client",
                "code": "not_found",
                "message": "No client 'ACME' of partner 'P-NOBODY'.",
            }
        ],
    ),
    (
        {"quantity": "-1"},
        [{"field": "quantity", "code": "min_value", "message": "quantity must not be negative."}],
    ),
    (
        {"quantity": -3},
        [{"field": "quantity", "code": "min_value", "message": "quantity must not be negative."}],
    ),
    *[
        (
            {"quantity": value},
            [
                {
                    "field": "quantity",
                    "code": "invalid",
                    "message": 'quantity must be a decimal number in a string (e.g. "12.5") or an '
                    "integer.",
                }
            ],
        )
        for value in ("abc", "1e3", " 5", "NaN", "", True, [1], {"v": 1})
    ],
    *[
        (
            {"quantity": value},
            [
                {
                    "field": "quantity",
                    "code": "float_not_allowed",
                    "message": "A JSON number with a fraction or exponent loses precision: send "
                    'decimals as strings, e.g. "12.5".',
                }
            ],
        )
        for value in (1.5, 2.0)
    ],
    (
        {"quantity": "0.1234567"},
        [
            {
                "field": "quantity",
                "code": "max_decimal_places",
                "message": "quantity has more than 6 decimal places.",
            }
        ],
    ),
    (
        {"quantity": "1" + "0" * 14},
        [
            {
                "field": "quantity",
                "code": "max_value",
                "message": "quantity has more than 14 integer digits.",
            }
        ],
    ),
    (
        {"timestamp": "2026-03-15T14:05:01Z"},
        [
            {
                "field": "timestamp",
                "code": "in_future",
                "message": "timestamp is more than 5 minutes in the future; usage is reported "
                "after it happens.",
            }
        ],
    ),
    *[
        (
            {"timestamp": value},
            [
                {
                    "field": "timestamp",
                    "code": "invalid",
                    "message": "timestamp must be an ISO 8601 date and time with its offset, e.g. "
                    '"2026-10-05T14:30:00Z" or "2026-10-05T16:30:00+02:00".',
                }
            ],
        )
        for value in ("2026-03-15T14:00:00", "2026-03-15", "yesterday", 1773583200)
    ],
    (
        {"event_id": ..., "quantity": ...},
        [
            {"field": "event_id", "code": "required", "message": "This field is required."},
            {"field": "quantity", "code": "required", "message": "This field is required."},
        ],
    ),
    (
        {"client": None, "meter": ..., "timestamp": ...},
        [
            {"field": "client", "code": "required", "message": "This field is required."},
            {"field": "meter", "code": "required", "message": "This field is required."},
            {"field": "timestamp", "code": "required", "message": "This field is required."},
        ],
    ),
    (
        {"event_id": "x" * 256},
        [
            {
                "field": "event_id",
                "code": "invalid",
                "message": "event_id must be a string of 1 to 255 characters.",
            }
        ],
    ),
    (
        {"event_id": 17},
        [
            {
                "field": "event_id",
                "code": "invalid",
                "message": "event_id must be a string of 1 to 255 characters.",
            }
        ],
    ),
    (
        {"partner": ...},
        [
            {
                "field": "partner",
                "code": "required",
                "message": "Vendor keys name the client's partner.",
            }
        ],
    ),
    (
        {"properties": [1]},
        [
            {
                "field": "properties",
                "code": "invalid",
                "message": "properties must be a JSON object.",
            }
        ],
    ),
    (
        {"qty": "1"},
        [{"field": "qty", "code": "unknown_field", "message": "Unknown field 'qty'."}],
    ),
]


@pytest.mark.parametrize(("overrides", "errors"), BAD_ITEMS, ids=lambda v: repr(v)[:40])
def test_a_bad_item_is_rejected_exactly_and_its_valid_neighbours_are_stored(
    world, overrides, errors
):
    batch = [event("ok-1"), event("bad", **overrides), event("ok-2")]
    response = post(world["vendor"], batch)
    assert response.status_code == 200, response.content
    assert response.json() == {
        "accepted": 2,
        "duplicates": 0,
        "rejected": [{"index": 1, "errors": errors}],
    }
    assert [row[0] for row in stored(world["tv"])] == ["evt-ok-1", "evt-ok-2"]


def test_an_item_that_is_not_an_object(world):
    response = post(world["vendor"], [event(), "evt-2", None])
    assert response.json()["rejected"] == [
        {
            "index": i,
            "errors": [
                {
                    "field": "",
                    "code": "invalid",
                    "message": "Each usage event must be a JSON object.",
                }
            ],
        }
        for i in (1, 2)
    ]
    assert len(stored(world["tv"])) == 1


def test_every_item_rejected_is_422_problem_with_the_counts(world):
    body = problem(post(world["vendor"], [event(1, meter="nope"), event(2, quantity=-1)]), 422)
    assert body == {
        "type": "/api/v1/problems/usage-events-rejected",
        "title": "Unprocessable content",
        "status": 422,
        "detail": "Every usage event was rejected; nothing was stored.",
        "accepted": 0,
        "duplicates": 0,
        "rejected": [
            {
                "index": 0,
                "errors": [
                    {"field": "meter", "code": "not_found", "message": "No meter with code 'nope'."}
                ],
            },
            {
                "index": 1,
                "errors": [
                    {
                        "field": "quantity",
                        "code": "min_value",
                        "message": "quantity must not be negative.",
                    }
                ],
            },
        ],
    }
    assert stored(world["tv"]) == []


@pytest.mark.parametrize(
    ("body", "status", "slug", "detail"),
    [
        (b'[{"event_id": "a",', 400, "malformed-json", "The body is not valid JSON: "),
        (b" ", 400, "malformed-json", "The body is not valid JSON: "),
        (
            b'"just a string"',
            400,
            "invalid-batch",
            "Send one usage event (a JSON object) or a list of them.",
        ),
        (b"[]", 400, "invalid-batch", "The list of usage events is empty."),
        (
            orjson.dumps([event(i) for i in range(1001)]),
            413,
            "batch-too-large",
            "A batch holds at most 1000 events; this one has 1001. Nothing was stored: split it "
            "and send the parts.",
        ),
    ],
    ids=["truncated", "empty", "string", "empty-list", "oversized"],
)
def test_unusable_bodies_are_problems_and_store_nothing(world, body, status, slug, detail):
    answer = problem(post(world["vendor"], body), status)
    assert answer["type"] == f"/api/v1/problems/{slug}"
    assert answer["status"] == status
    assert answer["detail"].startswith(detail)
    assert stored(world["tv"]) == []


def test_other_content_types_are_415(world):
    response = world["vendor"].post(URL, {"event_id": "x"})  # a form post
    assert problem(response, 415)["detail"] == "Send the events as application/json."
    assert stored(world["tv"]) == []


def test_unauthenticated_is_401_and_stores_nothing(world):
    response = post(host_client(world["tv"].host), event())
    assert response.status_code == 401
    assert stored(world["tv"]) == []


def test_the_same_batch_twice_counts_once(world):
    batch = [event(1), event(2), event(3, meter="api_calls")]
    first = post(world["vendor"], batch).json()
    again = post(world["vendor"], batch)
    assert first == {"accepted": 3, "duplicates": 0, "rejected": []}
    assert again.status_code == 200
    assert again.json() == {"accepted": 0, "duplicates": 3, "rejected": []}
    assert [row[0] for row in stored(world["tv"])] == ["evt-1", "evt-2", "evt-3"]


def test_a_repeat_never_overwrites_the_first_write(world):
    post(world["vendor"], event(1, quantity="5"))
    answer = post(world["vendor"], [event(1, quantity="9"), event(2)]).json()
    assert answer == {"accepted": 1, "duplicates": 1, "rejected": []}
    assert [(r[0], r[4]) for r in stored(world["tv"])] == [
        ("evt-1", Decimal("5")),
        ("evt-2", Decimal("12.5")),
    ]


def test_a_duplicate_inside_one_batch_counts_once_and_the_first_wins(world):
    batch = [event(1, quantity="1"), event(2), event(1, quantity="2")]
    assert post(world["vendor"], batch).json() == {"accepted": 2, "duplicates": 1, "rejected": []}
    assert [(r[0], r[4]) for r in stored(world["tv"])] == [
        ("evt-1", Decimal("1")),
        ("evt-2", Decimal("12.5")),
    ]


def test_partner_keys_write_for_their_own_clients_only(world):
    api = world["partner"]
    batch = [
        event(1, partner=...),  # its own partner is implied
        event(2, partner="P-ALPHA"),
        event(3, partner=world["alpha"].pk),
        event(4, partner="P-BETA"),  # B's client ACME exists: still refused, never stored
        event(5, partner=world["beta"].pk),
        event(6, client=world["beta_acme"].external_id, partner=...),  # resolves to its own ACME
        event(7, client="NOPE", partner=...),
    ]
    answer = api.post(URL, orjson.dumps(batch), content_type="application/json").json()
    forbidden = [
        {
            "field": "partner",
            "code": "forbidden",
            "message": "A partner key reports usage for its own partner's clients only.",
        }
    ]
    assert answer == {
        "accepted": 4,
        "duplicates": 0,
        "rejected": [
            {"index": 3, "errors": forbidden},
            {"index": 4, "errors": forbidden},
            {
                "index": 6,
                "errors": [
                    {"field": "client", "code": "not_found", "message": "No client 'NOPE'."}
                ],
            },
        ],
    }
    rows = stored(world["tv"])
    assert [r[0] for r in rows] == ["evt-1", "evt-2", "evt-3", "evt-6"]
    assert {(r[1], r[2]) for r in rows} == {(world["alpha"].pk, world["acme"].pk)}


def test_a_partner_key_naming_only_another_partners_client_is_422_and_stores_nothing(world):
    with schema_context(world["tv"].schema):
        ClientFactory(partner=world["beta"], external_id="BETA-ONLY")
    body = problem(post(world["partner"], event(1, client="BETA-ONLY", partner=...)), 422)
    assert body["rejected"] == [
        {
            "index": 0,
            "errors": [
                {"field": "client", "code": "not_found", "message": "No client 'BETA-ONLY'."}
            ],
        }
    ]
    assert stored(world["tv"]) == []


def test_a_batch_of_1000_takes_a_constant_handful_of_queries(world):
    batch = [event(i, meter=("storage_gb", "api_calls")[i % 2]) for i in range(1000)]
    batch[10]["client"] = "NOPE"
    with CaptureQueriesContext(connection) as queries:
        answer = post(world["vendor"], batch).json()
    assert answer["accepted"] == 999
    ours = [
        q["sql"]
        for q in queries.captured_queries
        if "billing_" in q["sql"] or "partners_client" in q["sql"]
    ]
    # One query for the clients, one for the meters, one for the end of the latest closed
    # billing period (late usage), one INSERT for all 999 rows — the last two in one transaction
    # (a savepoint inside the test's own transaction).
    assert len(ours) == 4, ours
    assert len(queries.captured_queries) <= 12, [q["sql"][:80] for q in queries.captured_queries]
    with schema_context(world["tv"].schema):
        assert UsageEvent.objects.count() == 999


# --- concurrency: real threads, each with its own connection ---------------------------------
#
# pytest-django's transactional_db flushes every table at teardown, which would delete the
# session's committed tenants (see tests/browser/conftest.py); so the rows the threads need are
# committed from a thread of their own and removed again afterwards.


@pytest.fixture
def committed_world(vendor_a):
    schema = vendor_a.schema

    def make():
        with schema_context(schema):
            partner = PartnerFactory(name="Race IT", external_id="P-RACE")
            client = ClientFactory(partner=partner, external_id="RACE-1")
            meter = Meter.objects.create(
                code="race_calls", name="Race calls", unit="call", aggregation=Aggregation.SUM
            )
            return partner, client, meter

    partner, client, meter = committed(make)
    yield schema, partner, client, meter

    def clean():
        with schema_context(schema):
            UsageEvent.objects.filter(partner=partner).delete()
            Client.objects.filter(pk=client.pk).delete()
            Partner.objects.filter(pk=partner.pk).delete()
            track = partner.track
            track.delete()
            track.program.delete()
            Meter.objects.filter(pk=meter.pk).delete()

    committed(clean)


def test_the_same_batch_from_several_threads_is_stored_once(committed_world):
    schema, partner, _client, _meter = committed_world
    batch = [
        {
            "event_id": f"race-{i:04d}",
            "client": "RACE-1",
            "partner": "P-RACE",
            "meter": "race_calls",
            "quantity": str(i),
            "timestamp": "2026-03-01T00:00:00Z",
        }
        for i in range(500)
    ]
    threads_count = 6
    barrier = threading.Barrier(threads_count)
    results: list = [None] * threads_count
    errors: list = []

    def worker(n: int) -> None:
        try:
            with schema_context(schema):
                # Each thread a different order: the insert sorts, so no deadlock.
                items = batch[n * 37 :] + batch[: n * 37]
                barrier.wait()
                results[n] = ingest_batch(items, caller_partner_id=None)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sum(r.accepted for r in results) == 500
    assert all(r.accepted + r.duplicates == 500 and r.rejected == [] for r in results)

    def check():
        with schema_context(schema):
            return list(
                UsageEvent.objects.filter(partner=partner)
                .order_by("event_id")
                .values_list("event_id", "quantity")
            )

    assert committed(check) == [(f"race-{i:04d}", Decimal(i)) for i in range(500)]


def test_the_openapi_schema_documents_the_endpoint(tmp_path):
    out = tmp_path / "schema.json"
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "msp_program.settings.test"}
    result = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "spectacular",
            "--validate",
            "--fail-on-warn",
            "--format",
            "openapi-json",
            "--file",
            str(out),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    schema = json.loads(out.read_text())
    operation = schema["paths"]["/api/v1/usage-events/"]
    assert set(operation) == {"post"}
    responses = operation["post"]["responses"]
    assert set(responses) == {"200", "400", "413", "415", "422"}
    assert set(responses["422"]["content"]) == {PROBLEM_CONTENT_TYPE}
    components = schema["components"]["schemas"]
    assert components["UsageEventBatchRequest"] == {
        "oneOf": [
            {"$ref": "#/components/schemas/UsageEventInputRequest"},
            {"type": "array", "items": {"$ref": "#/components/schemas/UsageEventInputRequest"}},
        ]
    }
    assert set(components["UsageEventInputRequest"]["required"]) == {
        "event_id",
        "client",
        "meter",
        "quantity",
        "timestamp",
    }
    assert set(components["UsageEventResult"]["properties"]) == {
        "accepted",
        "duplicates",
        "rejected",
    }


def test_a_unique_count_meters_events_keep_the_counted_value(world):
    """Ingest copies properties->>(the meter's property) of unique_count meters into
    `unique_value` (what rating counts, from its index) — the very text PostgreSQL renders —
    and leaves it null for other meters and for events without the property."""
    from billing.services.catalog import meter_update
    from core.actors import Actor

    with schema_context(world["tv"].schema):
        Meter.objects.create(
            code="devices",
            name="Devices",
            unit="device",
            aggregation=Aggregation.UNIQUE_COUNT,
            unique_property="device_id",
        )
    batch = [
        event(1, meter="devices", properties={"device_id": "dev-42"}),
        event(2, meter="devices", properties={"device_id": 42}),
        event(3, meter="devices", properties={"device_id": 1.50, "site": "hq"}),
        event(4, meter="devices", properties={"device_id": True}),
        event(5, meter="devices", properties={"site": "hq"}),
        event(6, meter="devices", properties={"device_id": None}),
        event(7, meter="storage_gb", properties={"device_id": "dev-42"}),
    ]
    assert post(world["vendor"], batch).json()["accepted"] == 7

    def values() -> dict:
        with schema_context(world["tv"].schema):
            return dict(UsageEvent.objects.values_list("event_id", "unique_value"))

    assert values() == {
        "evt-1": "dev-42",
        "evt-2": "42",
        "evt-3": "1.5",
        "evt-4": "true",
        "evt-5": None,
        "evt-6": None,
        "evt-7": None,
    }
    with schema_context(world["tv"].schema):
        # Exactly what the database renders from the stored properties.
        for event_id, value in values().items():
            meter = UsageEvent.objects.get(event_id=event_id).meter
            if meter.code == "devices":
                rendered = UsageEvent.objects.filter(event_id=event_id).values_list(
                    KeyTextTransform("device_id", "properties"), flat=True
                )
                assert [value] == list(rendered)
        # The meter (billed by no plan) now counts sites: its events follow.
        meter_update(
            meter=Meter.objects.get(code="devices"),
            actor=Actor.system("test"),
            unique_property="site",
        )
    assert values() == {
        "evt-1": None,
        "evt-2": None,
        "evt-3": "hq",
        "evt-4": None,
        "evt-5": "hq",
        "evt-6": None,
        "evt-7": None,
    }
