"""Client CSV import, below the pages: reading the file, row-level checks, the all-or-nothing
bulk import with one audit row, and the signed temporary file between preview and confirm."""

from __future__ import annotations

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import schema_context

from core.actors import Actor
from core.models import AuditEntry
from partners.enums import PartnerStatus
from partners.errors import PartnerError
from partners.models import Client
from partners.services import client_import as ci
from tests.factories import ClientFactory, PartnerFactory

pytestmark = pytest.mark.django_db
ACTOR = Actor.system("tests")
HEADER = "name,external_id,status,service_tier,started_on,ended_on\n"


def read(text: str, encoding: str = "utf-8") -> list[ci.RawRow]:
    return ci.read_client_csv(text.encode(encoding))


def errors_by_line(rows: list[ci.CheckedRow]) -> dict[int, list[str]]:
    return {row.line: list(row.errors) for row in rows}


# ---- reading -----------------------------------------------------------------------------------


def test_reads_utf8_with_a_bom_any_column_order_and_skips_blank_lines():
    rows = ci.read_client_csv(
        "\ufeff Status ,NAME,external_id,started_on,service_tier\n"
        'active,"Müller, GmbH",M-1,2026-01-01,Gold\n'
        "\n"
        ",,,,\n"
        "trial,Zeta,Z-1,2026-02-01,\n".encode()
    )
    assert [(r.line, r.values, r.shape_error) for r in rows] == [
        (
            2,
            {
                "name": "Müller, GmbH",
                "external_id": "M-1",
                "status": "active",
                "service_tier": "Gold",
                "started_on": "2026-01-01",
                "ended_on": "",
            },
            "",
        ),
        (
            5,
            {
                "name": "Zeta",
                "external_id": "Z-1",
                "status": "trial",
                "service_tier": "",
                "started_on": "2026-02-01",
                "ended_on": "",
            },
            "",
        ),
    ]


def test_line_numbers_follow_quoted_line_breaks():
    rows = read(HEADER + '"Two\nLines",T-1,active,,2026-01-01,\nNext,N-1,active,,2026-01-01,\n')
    assert [(r.line, r.values["name"]) for r in rows] == [(3, "Two\nLines"), (4, "Next")]


@pytest.mark.parametrize(
    "data, message",
    [
        (b"", "The file is empty."),
        (b"\n\n", "The file is empty."),
        (HEADER.encode(), "The file has a header row but no clients."),
        (
            b"name,external_id\nA,1\n",
            "The header row must be name,external_id,status,service_tier,started_on[,ended_on] "
            "(missing status, service_tier, started_on).",
        ),
        (
            b"name,external_id,status,service_tier,started_on,notes\n",
            "The header row must be name,external_id,status,service_tier,started_on[,ended_on] "
            "(unknown notes).",
        ),
        (
            b"name,name,external_id,status,service_tier,started_on\n",
            "The header row must be name,external_id,status,service_tier,started_on[,ended_on] "
            "(repeated name).",
        ),
        (
            (HEADER + "Café,C-1,active,,2026-01-01,\n").encode("latin-1"),
            "The file is not UTF-8 text. Save it as “CSV UTF-8” and upload it again.",
        ),
        (b"PK\x03\x04\x00\x00binary", "This is not a CSV file."),
        (
            b"x" * (5 * 1024 * 1024 + 1),
            "The file is larger than 5 MB; split it into smaller files.",
        ),
    ],
)
def test_files_that_cannot_be_used_at_all(data, message):
    with pytest.raises(PartnerError) as exc:
        ci.read_client_csv(data)
    assert (str(exc.value), exc.value.field) == (message, "file")


def test_exactly_five_megabytes_is_accepted():
    row = "Name,E-{:07d},active,,2026-01-01,\n"
    text = HEADER + "".join(row.format(n) for n in range(200_000))
    text = text[: 5 * 1024 * 1024]
    text = text[: text.rindex("\n") + 1]
    data = text.encode()
    assert len(data) <= 5 * 1024 * 1024
    assert len(ci.read_client_csv(data)) == text.count("\n") - 1


# ---- checking rows -------------------------------------------------------------------------------


def test_every_row_gets_its_own_errors(vendor_a):
    with schema_context(vendor_a.schema):
        partner = PartnerFactory()
        ClientFactory(partner=partner, external_id="EXISTS")
        ClientFactory(external_id="OTHER-PARTNER")  # another partner's id is free here
        rows = read(
            HEADER
            + "Good,G-1,Active,Gold,2026-01-01,\n"  # 2: valid (status is case-insensitive)
            + "Bad status,B-1,paused,,2026-01-01,\n"  # 3
            + "Bad date,B-2,active,,01/02/2026,\n"  # 4
            + ",B-3,active,,2026-01-01,\n"  # 5: no name
            + "Churn,B-4,churned,,2026-01-01,\n"  # 6: churned without end
            + "Dup,DUP,active,,2026-01-01,\n"  # 7
            + "Dup again,DUP,trial,,2026-01-01,\n"  # 8
            + "Exists,EXISTS,active,,2026-01-01,\n"  # 9
            + "Ends early,B-5,churned,,2026-02-01,2026-01-31\n"  # 10
            + "Not churned,B-6,active,,2026-01-01,2026-02-01\n"  # 11
            + "Short,B-7,active\n"  # 12
            + "Other,OTHER-PARTNER,nfr,,2026-02-30,\n"  # 13: impossible date
            + "No start,B-8,,,,\n"  # 14
            + "Churned ok,B-9,churned,,2026-01-01,2026-01-01\n"  # 15: valid
        )
        checked = ci.check_client_rows(partner=partner, rows=rows)
    assert errors_by_line(checked) == {
        2: [],
        3: ["Status “paused” is unknown; use one of trial, active, nfr, suspended, churned."],
        4: ["Start date “01/02/2026” is not a date; use YYYY-MM-DD."],
        5: ["Name is missing."],
        6: ["A churned client needs an end date (ended_on)."],
        7: ["External id “DUP” appears on rows 7, 8 of this file."],
        8: ["External id “DUP” appears on rows 7, 8 of this file."],
        9: ["A client with external id “EXISTS” already exists."],
        10: ["The end date is before the start date."],
        11: ["Only churned clients have an end date."],
        12: ["Expected 6 values, found 3.", "Start date is missing (YYYY-MM-DD)."],
        13: ["Start date “2026-02-30” is not a date; use YYYY-MM-DD."],
        14: [
            "Status is missing; use one of trial, active, nfr, suspended, churned.",
            "Start date is missing (YYYY-MM-DD).",
        ],
        15: [],
    }
    assert checked[0].cleaned == {
        "name": "Good",
        "external_id": "G-1",
        "status": "active",
        "service_tier": "Gold",
        "started_on": datetime.date(2026, 1, 1),
        "ended_on": None,
    }


def test_too_long_values_are_row_errors(vendor_a):
    with schema_context(vendor_a.schema):
        partner = PartnerFactory()
        rows = read(HEADER + f"{'n' * 201},{'e' * 101},active,{'t' * 61},2026-01-01,\n")
        checked = ci.check_client_rows(partner=partner, rows=rows)
    assert list(checked[0].errors) == [
        "Name is longer than 200 characters.",
        "External id is longer than 100 characters.",
        "Service tier is longer than 60 characters.",
    ]


# ---- importing -----------------------------------------------------------------------------------


def test_import_creates_every_row_in_bulk_with_one_audit_row(vendor_a):
    with schema_context(vendor_a.schema):
        partner = PartnerFactory()
        rows = read(
            HEADER
            + "Alpha,A-1,active,Gold,2026-01-01,\n"
            + "Beta,B-1,trial,,2026-02-01,\n"
            + "'=Gamma,G-1,churned,Gold,2025-01-01,2025-12-31\n"
        )
        clients = ci.clients_import(
            partner=partner, rows=rows, actor=ACTOR, source="clients.csv", skipped_rows=2
        )
        assert len(clients) == 3 and all(c.pk for c in clients)
        saved = list(
            Client.objects.filter(partner=partner)
            .order_by("external_id")
            .values_list("name", "external_id", "status", "service_tier", "started_on", "ended_on")
        )
        assert saved == [
            ("Alpha", "A-1", "active", "Gold", datetime.date(2026, 1, 1), None),
            ("Beta", "B-1", "trial", "", datetime.date(2026, 2, 1), None),
            # The apostrophe an export puts before a formula character comes off again.
            (
                "=Gamma",
                "G-1",
                "churned",
                "Gold",
                datetime.date(2025, 1, 1),
                datetime.date(2025, 12, 31),
            ),
        ]
        entry = AuditEntry.objects.get()
        assert (entry.action, entry.object_type, entry.object_id) == (
            "clients.imported",
            "partners.partner",
            str(partner.pk),
        )
        assert entry.after == {
            "imported": 3,
            "skipped_invalid_rows": 2,
            "source": "clients.csv",
            "statuses": {"active": 1, "churned": 1, "trial": 1},
        }


def test_import_runs_a_fixed_number_of_queries_whatever_the_rows(vendor_a):
    def rows(count: int, prefix: str) -> list[dict]:
        return [
            {"name": f"C{n}", "external_id": f"{prefix}{n}", "status": "active",
             "service_tier": "", "started_on": "2026-01-01"}
            for n in range(count)
        ]  # fmt: skip

    with schema_context(vendor_a.schema):
        partner = PartnerFactory()
        with CaptureQueriesContext(connection) as few:
            ci.clients_import(partner=partner, rows=rows(3, "few-"), actor=ACTOR)
        with CaptureQueriesContext(connection) as many:
            ci.clients_import(partner=partner, rows=rows(900, "many-"), actor=ACTOR)
        assert len(few) == len(many)
        assert Client.objects.filter(partner=partner).count() == 903


def test_rows_with_errors_import_nothing(vendor_a):
    with schema_context(vendor_a.schema):
        partner = PartnerFactory()
        rows = read(HEADER + "Good,G-1,active,,2026-01-01,\nBad,B-1,nope,,2026-01-01,\n")
        with pytest.raises(PartnerError, match=r"^1 row has errors \(rows 3\); nothing was"):
            ci.clients_import(partner=partner, rows=rows, actor=ACTOR)
        assert not Client.objects.filter(partner=partner).exists()
        assert not AuditEntry.objects.exists()
        with pytest.raises(PartnerError, match=r"^There are no rows to import\.$"):
            ci.clients_import(partner=partner, rows=[], actor=ACTOR)


def test_a_client_created_since_the_preview_refuses_the_whole_import(vendor_a):
    with schema_context(vendor_a.schema):
        partner = PartnerFactory()
        rows = read(HEADER + "One,ONE,active,,2026-01-01,\nTwo,TWO,active,,2026-01-01,\n")
        assert all(row.is_valid for row in ci.check_client_rows(partner=partner, rows=rows))
        ClientFactory(partner=partner, external_id="TWO")  # meanwhile
        with pytest.raises(PartnerError) as exc:
            ci.clients_import(partner=partner, rows=rows, actor=ACTOR)
        assert str(exc.value) == (
            "1 row has errors (rows 3); nothing was imported. "
            "Row 3: A client with external id “TWO” already exists."
        )
        assert list(
            Client.objects.filter(partner=partner).values_list("external_id", flat=True)
        ) == ["TWO"]


def test_a_read_only_partner_imports_nothing(vendor_a):
    with schema_context(vendor_a.schema):
        partner = PartnerFactory(status=PartnerStatus.SUSPENDED)
        rows = read(HEADER + "One,ONE,active,,2026-01-01,\n")
        with pytest.raises(PartnerError, match="is suspended"):
            ci.clients_import(partner=partner, rows=rows, actor=ACTOR)
        assert not Client.objects.filter(partner=partner).exists()


# ---- the upload between preview and confirm ------------------------------------------------------


@pytest.fixture
def stage_dir(settings, tmp_path):
    settings.CLIENT_IMPORT_DIR = str(tmp_path)
    return tmp_path


def test_a_staged_upload_is_signed_and_only_for_its_user_and_partner(vendor_a, stage_dir):
    with schema_context(vendor_a.schema):
        partner, other = PartnerFactory(), PartnerFactory()
    rows = read(HEADER + "One,ONE,active,,2026-01-01,\n")
    token = ci.import_stage(
        schema=vendor_a.schema, partner=partner, user_id=7, file_name="a.csv", rows=rows
    )
    path = stage_dir / f"{token}.signed"
    assert path.exists() and "ONE" not in path.read_text()  # compressed and signed
    staged = ci.import_load(token=token, schema=vendor_a.schema, partner=partner, user_id=7)
    assert (staged.file_name, staged.rows) == ("a.csv", rows)
    for schema, who, user_id in [
        (vendor_a.schema, other, 7),
        (vendor_a.schema, partner, 8),
        ("v_vendor_b", partner, 7),
    ]:
        assert ci.import_load(token=token, schema=schema, partner=who, user_id=user_id) is None
    assert (
        ci.import_load(token="../etc/passwd", schema=vendor_a.schema, partner=partner, user_id=7)
        is None
    )

    path.write_text(path.read_text().replace(":", ";", 1))  # tampered
    assert ci.import_load(token=token, schema=vendor_a.schema, partner=partner, user_id=7) is None
    ci.import_discard(token)
    assert not path.exists()


def test_a_staged_upload_expires(vendor_a, stage_dir, monkeypatch):
    with schema_context(vendor_a.schema):
        partner = PartnerFactory()
    rows = read(HEADER + "One,ONE,active,,2026-01-01,\n")
    token = ci.import_stage(
        schema=vendor_a.schema, partner=partner, user_id=1, file_name="a.csv", rows=rows
    )
    monkeypatch.setattr(ci, "STAGE_MAX_AGE", -1)
    assert ci.import_load(token=token, schema=vendor_a.schema, partner=partner, user_id=1) is None
    # The next upload removes files that can no longer be confirmed.
    ci.import_stage(schema=vendor_a.schema, partner=partner, user_id=1, file_name="b", rows=rows)
    assert not (stage_dir / f"{token}.signed").exists()


def test_a_duplicate_slipping_past_the_checks_is_stopped_by_the_database(vendor_a, monkeypatch):
    """A client created by another request between the check and the insert: the unique
    constraint refuses the insert and the whole import rolls back."""
    with schema_context(vendor_a.schema):
        partner = PartnerFactory()
        rows = read(HEADER + "One,ONE,active,,2026-01-01,\nTwo,TWO,active,,2026-01-01,\n")
        checked = ci.check_client_rows(partner=partner, rows=rows)
        ClientFactory(partner=partner, external_id="TWO")
        monkeypatch.setattr(ci, "check_client_rows", lambda **kwargs: checked)
        with pytest.raises(PartnerError, match="was just created; check the file again"):
            ci.clients_import(partner=partner, rows=rows, actor=ACTOR)
        assert list(
            Client.objects.filter(partner=partner).values_list("external_id", flat=True)
        ) == ["TWO"]
        assert not AuditEntry.objects.filter(action="clients.imported").exists()
