"""Usage CSV files: reading rows into ingest items (file-level refusals with readable messages,
row-level shape errors), and the preview's check, which must say exactly what ingest will say."""

from __future__ import annotations

import csv
import datetime
import io
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_tenants.utils import schema_context

from billing.enums import Aggregation
from billing.errors import BillingError
from billing.ingest import ingest_batch
from billing.models import Meter, UsageEvent
from billing.usage_csv import RowChecker, columns_for, read_rows, template_rows
from tests.factories import ClientFactory, PartnerFactory

pytestmark = pytest.mark.django_db

NOW = datetime.datetime(2026, 3, 15, 14, 0, tzinfo=datetime.UTC)
HEADER = "event_id,client,meter,quantity,timestamp,properties\n"


def rows_of(text: str | bytes, *, with_partner: bool = False) -> list:
    data = text.encode() if isinstance(text, str) else text
    return list(read_rows(io.BytesIO(data), with_partner=with_partner))


def file_error(text: str | bytes, *, with_partner: bool = False) -> str:
    with pytest.raises(BillingError) as caught:
        rows_of(text, with_partner=with_partner)
    assert caught.value.field == "file"
    return str(caught.value)


def test_rows_become_ingest_items_with_their_line_numbers():
    rows = rows_of(
        "\ufeff"  # a byte-order mark, as spreadsheet programs write it
        + HEADER
        + 'e1,ACME,storage_gb,12.5,2026-03-01T09:00:00Z,"{""device_id"": ""d-1""}"\n'
        + "\n"  # blank lines are not rows
        + " e2 , ACME ,api_calls, 3 ,2026-03-01T10:00:00+01:00,\n"
    )
    assert [(row.line, row.item, row.errors) for row in rows] == [
        (
            2,
            {
                "event_id": "e1",
                "client": "ACME",
                "meter": "storage_gb",
                "quantity": "12.5",
                "timestamp": "2026-03-01T09:00:00Z",
                "properties": {"device_id": "d-1"},
            },
            (),
        ),
        (
            4,
            {
                "event_id": "e2",
                "client": "ACME",
                "meter": "api_calls",
                "quantity": "3",
                "timestamp": "2026-03-01T10:00:00+01:00",
            },
            (),
        ),
    ]


def test_columns_in_any_order_and_properties_optional():
    rows = rows_of("Quantity,TIMESTAMP,meter,client,event_id\n1,2026-03-01T00:00:00Z,m,c,e\n")
    assert rows[0].item == {
        "event_id": "e",
        "client": "c",
        "meter": "m",
        "quantity": "1",
        "timestamp": "2026-03-01T00:00:00Z",
    }


def test_console_files_carry_the_partner():
    rows = rows_of(
        "event_id,partner,client,meter,quantity,timestamp\ne,P-1,c,m,1,2026-03-01T00:00:00Z\n",
        with_partner=True,
    )
    assert rows[0].item["partner"] == "P-1"


def test_row_shape_errors_name_the_row_and_the_column():
    rows = rows_of(
        HEADER
        + "e1,ACME,m,1\n"  # too few values
        + "e2,ACME,m,1,2026-03-01T00:00:00Z,{bad json}\n"
        + 'e3,ACME,m,1,2026-03-01T00:00:00Z,"[1, 2]"\n'
    )
    assert [(row.line, row.item, row.errors) for row in rows] == [
        (2, None, ({"field": "", "code": "invalid", "message": "Expected 6 values, found 4."},)),
        (
            3,
            None,
            (
                {
                    "field": "properties",
                    "code": "invalid",
                    "message": "properties is not valid JSON; write a JSON object, e.g. "
                    '{"device_id": "dev-42"}.',
                },
            ),
        ),
        (
            4,
            None,
            (
                {
                    "field": "properties",
                    "code": "invalid",
                    "message": "properties must be a JSON object.",
                },
            ),
        ),
    ]


@pytest.mark.parametrize(
    "content, message",
    [
        ("", "The file is empty."),
        ("\n \n", "The file is empty."),
        (
            "event_id,client,meter,quantity\n",
            "The header row must be event_id,client,meter,quantity,timestamp[,properties] "
            "(missing timestamp).",
        ),
        (
            "event_id,client,meter,quantity,timestamp,colour,client\n",
            "The header row must be event_id,client,meter,quantity,timestamp[,properties] "
            "(unknown colour; repeated client).",
        ),
        (
            "name,external_id,status,service_tier,started_on\n",
            "The header row must be event_id,client,meter,quantity,timestamp[,properties] "
            "(missing event_id, client, meter, quantity, timestamp; unknown name, external_id, "
            "status, service_tier, started_on).",
        ),
        (b"PK\x03\x04\x00\x00binary", "This is not a CSV file."),
        (
            HEADER.encode() + b"e1,caf\xe9,m,1,2026-03-01T00:00:00Z,\n",
            "The file is not UTF-8 text (line 2). Save it as “CSV UTF-8” and upload it again.",
        ),
    ],
)
def test_unusable_files_are_refused_with_a_readable_message(content, message):
    assert file_error(content) == message


def test_a_portal_file_may_not_name_partners_and_a_console_file_must():
    assert "unknown partner" in file_error(
        "event_id,partner,client,meter,quantity,timestamp\n", with_partner=False
    )
    assert "(missing partner)" in file_error(HEADER, with_partner=True)


def test_the_template_rows_are_read_back_as_valid_items():
    for with_partner in (False, True):
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(columns_for(with_partner=with_partner))
        writer.writerows(template_rows(with_partner=with_partner))
        rows = rows_of(out.getvalue(), with_partner=with_partner)
        assert [row.errors for row in rows] == [(), ()]
        assert rows[1].item["properties"] == {"device_id": "dev-42"}
        assert ("partner" in rows[0].item) is with_partner


# ---- the check agrees with ingest -----------------------------------------------------------


@pytest.fixture
def world(vendor_a, monkeypatch):
    monkeypatch.setattr(timezone, "now", lambda: NOW)
    with schema_context(vendor_a.schema):
        alpha = PartnerFactory(name="Alpha IT", external_id="P-ALPHA")
        beta = PartnerFactory(name="Beta IT", external_id="P-BETA")
        acme = ClientFactory(partner=alpha, external_id="ACME")
        ClientFactory(partner=beta, external_id="ACME")
        ClientFactory(partner=beta, external_id="BETA-ONLY")
        Meter.objects.create(code="storage_gb", name="Storage", unit="GB", aggregation="max")
        Meter.objects.create(
            code="devices",
            name="Devices",
            unit="device",
            aggregation=Aggregation.UNIQUE_COUNT,
            unique_property="device_id",
        )
    return {"tv": vendor_a, "alpha": alpha, "beta": beta, "acme": acme}


MIXED = (
    HEADER
    + "ok-1,ACME,storage_gb,12.5,2026-03-15T13:00:00Z,\n"
    + "bad-qty,ACME,storage_gb,1.5e3,2026-03-15T13:00:00Z,\n"
    + "neg,ACME,storage_gb,-2,2026-03-15T13:00:00Z,\n"
    + "future,ACME,storage_gb,1,2026-03-15T14:06:00Z,\n"
    + "no-offset,ACME,storage_gb,1,2026-03-15T13:00:00,\n"
    + "nobody,NOBODY,storage_gb,1,2026-03-15T13:00:00Z,\n"
    + "other,BETA-ONLY,storage_gb,1,2026-03-15T13:00:00Z,\n"
    + "meter,ACME,no_such_meter,1,2026-03-15T13:00:00Z,\n"
    + ",ACME,storage_gb,,2026-03-15T13:00:00Z,\n"
    + 'ok-2,ACME,devices,1,2026-03-15T13:00:00+01:00,"{""device_id"": ""d-1""}"\n'
)


def test_the_preview_check_finds_exactly_what_ingest_rejects(world):
    rows = rows_of(MIXED)
    with schema_context(world["tv"].schema):
        checked = RowChecker(caller_partner_id=world["alpha"].pk).check(rows)
        found = {row.line: [(e["field"], e["code"]) for e in errors] for row, errors in checked}
        assert found == {
            2: [],
            3: [("quantity", "invalid")],
            4: [("quantity", "min_value")],
            5: [("timestamp", "in_future")],
            6: [("timestamp", "invalid")],
            7: [("client", "not_found")],
            8: [("client", "not_found")],  # another partner's client: unknown to this partner
            9: [("meter", "not_found")],
            10: [("event_id", "required"), ("quantity", "required")],
            11: [],
        }
        assert checked[1][1][0]["message"] == (
            "quantity must be a decimal number, e.g. 12.5 (no thousands separators, a dot for "
            "decimals)."
        )
        assert checked[6][1][0]["message"] == "No client 'BETA-ONLY'."
        # ingest, given the same items, rejects the same rows with the same codes.
        items = [row.item for row in rows if row.item is not None]
        result = ingest_batch(items, caller_partner_id=world["alpha"].pk)
        rejected = {
            rows[r["index"]].line: [(e["field"], e["code"]) for e in r["errors"]]
            for r in result.rejected
        }
        assert rejected == {line: codes for line, codes in found.items() if codes}
        assert result.accepted == 2
        assert sorted(UsageEvent.objects.values_list("event_id", "quantity")) == [
            ("ok-1", Decimal("12.500000")),
            ("ok-2", Decimal("1.000000")),
        ]


def test_the_console_check_needs_the_partner_to_tell_clients_apart(world):
    rows = rows_of(
        "event_id,partner,client,meter,quantity,timestamp\n"
        "a,P-ALPHA,ACME,storage_gb,1,2026-03-15T13:00:00Z\n"
        f"b,{world['beta'].pk},ACME,storage_gb,1,2026-03-15T13:00:00Z\n"
        "c,,ACME,storage_gb,1,2026-03-15T13:00:00Z\n"
        "d,P-ALPHA,BETA-ONLY,storage_gb,1,2026-03-15T13:00:00Z\n"
        "e,P-NOBODY,ACME,storage_gb,1,2026-03-15T13:00:00Z\n",
        with_partner=True,
    )
    with schema_context(world["tv"].schema):
        checked = RowChecker(caller_partner_id=None).check(rows)
    assert [[e["message"] for e in errors] for _row, errors in checked] == [
        [],
        [],
        [
            "partner is required: the partner's id or external_id (client ids are unique per "
            "partner only)."
        ],
        ["No client 'BETA-ONLY' of partner 'P-ALPHA'."],
        ["No client 'ACME' of partner 'P-NOBODY'."],
    ]


def test_the_check_looks_each_client_up_once(world):
    body = HEADER + "".join(f"e{n},ACME,storage_gb,1,2026-03-15T13:00:00Z,\n" for n in range(3000))
    rows = rows_of(body)
    with schema_context(world["tv"].schema):
        checker = RowChecker(caller_partner_id=world["alpha"].pk)
        with CaptureQueriesContext(connection) as queries:
            for start in range(0, 3000, 1000):
                assert all(not errors for _r, errors in checker.check(rows[start : start + 1000]))
    selects = [q["sql"] for q in queries.captured_queries if q["sql"].startswith("SELECT")]
    assert len(selects) == 2, selects  # the client, the meters
