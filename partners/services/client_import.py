"""Importing an MSP's clients from CSV: read the file, check every row, keep the upload between
the preview and the confirmation, and create the clients in one transaction.

The file: UTF-8 (a byte-order mark is fine), at most 5 MB, a header row naming the columns
`name,external_id,status,service_tier,started_on` and optionally `ended_on` (any order), then one
client per row. Dates are YYYY-MM-DD. Every problem is reported against its row; a file with
errors imports nothing unless the caller passes only the valid rows.

Between preview and confirmation the parsed rows live in a signed temporary file (named by a
random token kept in the user's session), not in the session itself: a 5 MB upload would
otherwise be loaded and decoded on every request of that session.
"""

from __future__ import annotations

import contextlib
import csv
import datetime
import io
import json
import re
import secrets
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core import signing
from django.db import IntegrityError, transaction

from core.actors import Actor
from core.services.audit import audit_record
from partners.enums import ClientStatus
from partners.errors import PartnerError
from partners.models import Client, Partner

COLUMNS = ("name", "external_id", "status", "service_tier", "started_on", "ended_on")
REQUIRED_COLUMNS = COLUMNS[:5]
MAX_UPLOAD_BYTES = 5 * 1024 * 1024
TOO_BIG = "The file is larger than 5 MB; split it into smaller files."
# Characters that make spreadsheets evaluate a cell; exported cells starting with one get a
# leading apostrophe, which the import takes off again so an export imports back unchanged.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
TEMPLATE_ROWS = (
    ("Contoso Ltd", "CONTOSO-001", "active", "Essentials", "2026-01-15", ""),
    ("Fabrikam Inc", "FAB-002", "trial", "Premium", "2026-03-01", ""),
    ("Litware GmbH", "LIT-003", "churned", "Essentials", "2025-06-01", "2026-02-28"),
)
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_LIMITS = {"name": 200, "external_id": 100, "service_tier": 60}
_LABELS = {
    "name": "Name",
    "external_id": "External id",
    "status": "Status",
    "service_tier": "Service tier",
    "started_on": "Start date",
    "ended_on": "End date",
}


# ---- reading the file -------------------------------------------------------------------------


@dataclass(frozen=True)
class RawRow:
    """One data row as read: `line` is its line in the file (the header is line 1)."""

    line: int
    values: dict[str, str]
    shape_error: str = ""

    def to_json(self) -> list[Any]:
        return [self.line, [self.values.get(c, "") for c in COLUMNS], self.shape_error]

    @classmethod
    def from_json(cls, data: list[Any]) -> RawRow:
        line, cells, shape_error = data
        return cls(
            line=int(line), values=dict(zip(COLUMNS, cells, strict=True)), shape_error=shape_error
        )


def _uncell(value: str) -> str:
    value = value.strip()
    if len(value) > 1 and value[0] == "'" and value[1] in FORMULA_PREFIXES:
        return value[1:]
    return value


def read_client_csv(data: bytes) -> list[RawRow]:
    """Parse an uploaded file into rows; raises PartnerError (field "file") when the file as a
    whole cannot be used: too big, not UTF-8, not CSV, wrong header, no rows."""
    if len(data) > MAX_UPLOAD_BYTES:
        raise PartnerError(TOO_BIG, field="file")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise PartnerError(
            "The file is not UTF-8 text. Save it as “CSV UTF-8” and upload it again.", field="file"
        ) from None
    if "\x00" in text:
        raise PartnerError("This is not a CSV file.", field="file")
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader, None)
        while header is not None and not any(cell.strip() for cell in header):
            header = next(reader, None)
        if header is None:
            raise PartnerError("The file is empty.", field="file")
        columns = _check_header(header)
        rows: list[RawRow] = []
        for cells in reader:
            if not any(cell.strip() for cell in cells):
                continue  # blank lines are not rows
            shape_error = ""
            if len(cells) != len(columns):
                shape_error = f"Expected {len(columns)} values, found {len(cells)}."
            values = {column: "" for column in COLUMNS}
            for column, cell in zip(columns, cells, strict=False):
                values[column] = _uncell(cell)
            rows.append(RawRow(line=reader.line_num, values=values, shape_error=shape_error))
    except csv.Error as exc:
        raise PartnerError(
            f"The file is not valid CSV (line {reader.line_num}: {exc}).", field="file"
        ) from None
    if not rows:
        raise PartnerError("The file has a header row but no clients.", field="file")
    return rows


def _check_header(header: list[str]) -> list[str]:
    columns = [cell.strip().lower() for cell in header]
    unknown = [c for c in columns if c not in COLUMNS]
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    repeated = sorted(c for c, n in Counter(columns).items() if n > 1)
    expected = ",".join(REQUIRED_COLUMNS) + "[,ended_on]"
    if unknown or missing or repeated:
        problems = []
        if missing:
            problems.append("missing " + ", ".join(missing))
        if unknown:
            problems.append("unknown " + ", ".join(c or "(empty)" for c in unknown))
        if repeated:
            problems.append("repeated " + ", ".join(repeated))
        raise PartnerError(
            f"The header row must be {expected} ({'; '.join(problems)}).", field="file"
        )
    return columns


# ---- checking rows ----------------------------------------------------------------------------


@dataclass(frozen=True)
class CheckedRow:
    line: int
    values: dict[str, str]
    errors: tuple[str, ...]
    cleaned: dict[str, Any] = field(default_factory=dict)

    @property
    def is_valid(self) -> bool:
        return not self.errors


def _parse_date(value: str, column: str, errors: list[str]) -> datetime.date | None:
    if not value:
        return None
    if _ISO_DATE.fullmatch(value):
        try:
            return datetime.date.fromisoformat(value)
        except ValueError:
            pass
    errors.append(f"{_LABELS[column]} “{value}” is not a date; use YYYY-MM-DD.")
    return None


def _check_row(row: RawRow, existing: set[str]) -> tuple[list[str], dict[str, Any]]:
    errors: list[str] = [row.shape_error] if row.shape_error else []
    values = row.values
    for column in ("name", "external_id"):
        if not values[column]:
            errors.append(f"{_LABELS[column]} is missing.")
    for column, limit in _LIMITS.items():
        if len(values[column]) > limit:
            errors.append(f"{_LABELS[column]} is longer than {limit} characters.")
    status = values["status"].lower()
    if not status:
        errors.append(f"Status is missing; use one of {', '.join(ClientStatus.values)}.")
    elif status not in ClientStatus.values:
        errors.append(
            f"Status “{values['status']}” is unknown; use one of {', '.join(ClientStatus.values)}."
        )
    started_on = _parse_date(values["started_on"], "started_on", errors)
    ended_on = _parse_date(values["ended_on"], "ended_on", errors)
    if not values["started_on"]:
        errors.append("Start date is missing (YYYY-MM-DD).")
    if status == ClientStatus.CHURNED and not values["ended_on"]:
        errors.append("A churned client needs an end date (ended_on).")
    if values["ended_on"] and status in ClientStatus.values and status != ClientStatus.CHURNED:
        errors.append("Only churned clients have an end date.")
    if started_on and ended_on and ended_on < started_on:
        errors.append("The end date is before the start date.")
    if values["external_id"] in existing:
        errors.append(f"A client with external id “{values['external_id']}” already exists.")
    cleaned = {
        "name": values["name"],
        "external_id": values["external_id"],
        "status": status,
        "service_tier": values["service_tier"],
        "started_on": started_on,
        "ended_on": ended_on,
    }
    return errors, cleaned


def check_client_rows(*, partner: Partner, rows: Sequence[RawRow]) -> list[CheckedRow]:
    """Every row with its problems. Against the partner's existing clients: one query."""
    existing = set(Client.objects.filter(partner=partner).values_list("external_id", flat=True))
    lines_by_id: dict[str, list[int]] = defaultdict(list)
    for row in rows:
        if row.values["external_id"]:
            lines_by_id[row.values["external_id"]].append(row.line)
    checked = []
    for row in rows:
        errors, cleaned = _check_row(row, existing)
        lines = lines_by_id.get(row.values["external_id"], [])
        if len(lines) > 1:
            # Every occurrence is refused: which of them is the right one is for the user to say.
            others = ", ".join(str(n) for n in lines)
            errors.append(
                f"External id “{row.values['external_id']}” appears on rows {others} of this file."
            )
        checked.append(
            CheckedRow(line=row.line, values=row.values, errors=tuple(errors), cleaned=cleaned)
        )
    return checked


def rows_from_mappings(rows: Sequence[Mapping[str, Any]]) -> list[RawRow]:
    """Rows given as dicts (column → text; `line` optional) as the importer reads them."""
    result = []
    for index, mapping in enumerate(rows, start=2):
        if isinstance(mapping, RawRow):
            result.append(mapping)
            continue
        values = {c: _uncell(str(mapping.get(c) or "")) for c in COLUMNS}
        result.append(RawRow(line=int(mapping.get("line") or index), values=values))
    return result


def rows_have(count: int) -> str:
    return "1 row has" if count == 1 else f"{count} rows have"


# ---- importing --------------------------------------------------------------------------------


def clients_import(
    *,
    partner: Partner,
    rows: Sequence[RawRow | Mapping[str, Any]],
    actor: Actor,
    source: str = "",
    skipped_rows: int = 0,
) -> list[Client]:
    """Create a client per row, all or nothing, with one audit row for the whole import.

    The rows are checked again here, inside the transaction (the partner row is locked, so two
    imports of one partner run one after the other): a client created since the preview turns
    a row invalid and the whole import is refused. `skipped_rows` (invalid rows the user chose
    to leave out) and `source` (the file's name) go into the audit row.
    """
    raw = rows_from_mappings(rows)
    if not raw:
        raise PartnerError("There are no rows to import.")
    if partner.is_read_only:
        raise PartnerError(f"{partner.name} is {partner.get_status_display().lower()}.")
    try:
        with transaction.atomic():
            Partner.objects.select_for_update().filter(pk=partner.pk).first()
            checked = check_client_rows(partner=partner, rows=raw)
            invalid = [row for row in checked if not row.is_valid]
            if invalid:
                lines = ", ".join(str(row.line) for row in invalid[:10])
                more = "…" if len(invalid) > 10 else ""
                first = invalid[0]
                raise PartnerError(
                    f"{rows_have(len(invalid))} errors (rows {lines}{more}); nothing was imported. "
                    f"Row {first.line}: {' '.join(first.errors)}"
                )
            clients = Client.objects.bulk_create(
                [Client(partner=partner, **row.cleaned) for row in checked], batch_size=1000
            )
            statuses = Counter(row.cleaned["status"] for row in checked)
            audit_record(
                actor=actor,
                action="clients.imported",
                instance=partner,
                after={
                    "imported": len(clients),
                    "skipped_invalid_rows": skipped_rows,
                    "source": source[:200],
                    "statuses": dict(sorted(statuses.items())),
                },
            )
    except IntegrityError:
        # A client with one of these external ids was created while we were importing.
        raise PartnerError(
            "Another client with one of these external ids was just created; "
            "check the file again. Nothing was imported."
        ) from None
    return clients


# ---- keeping the upload between preview and confirmation --------------------------------------

STAGE_SALT = "partners.client_import.stage"
STAGE_MAX_AGE = 2 * 60 * 60  # seconds an upload may wait for its confirmation


@dataclass(frozen=True)
class StagedImport:
    token: str
    file_name: str
    rows: list[RawRow]


def _stage_dir() -> Path:
    configured = getattr(settings, "CLIENT_IMPORT_DIR", None)
    path = Path(configured) if configured else Path(tempfile.gettempdir()) / "msp-client-imports"
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def _stage_path(token: str) -> Path:
    if not token or not all(c.isalnum() or c in "-_" for c in token):
        raise ValueError("bad token")
    return _stage_dir() / f"{token}.signed"


def import_stage(
    *, schema: str, partner: Partner, user_id: int, file_name: str, rows: Sequence[RawRow]
) -> str:
    """Write the parsed rows to a signed temporary file; returns the token that names it."""
    _purge_stale()
    token = secrets.token_urlsafe(24)
    payload = {
        "schema": schema,
        "partner": partner.pk,
        "user": user_id,
        "file_name": file_name[:200],
        "rows": [row.to_json() for row in rows],
    }
    signed = signing.dumps(payload, salt=STAGE_SALT, compress=True)
    path = _stage_path(token)
    path.write_text(signed, encoding="ascii")
    path.chmod(0o600)
    return token


def import_load(*, token: str, schema: str, partner: Partner, user_id: int) -> StagedImport | None:
    """The staged upload, or None when it is gone, expired, tampered with or someone else's."""
    try:
        signed = _stage_path(token).read_text(encoding="ascii")
        payload = signing.loads(signed, salt=STAGE_SALT, max_age=STAGE_MAX_AGE)
    except (ValueError, OSError, signing.BadSignature, json.JSONDecodeError):
        return None
    if (payload.get("schema"), payload.get("partner"), payload.get("user")) != (
        schema,
        partner.pk,
        user_id,
    ):
        return None
    rows = [RawRow.from_json(item) for item in payload["rows"]]
    return StagedImport(token=token, file_name=payload["file_name"], rows=rows)


def import_discard(token: str | None) -> None:
    if not token:
        return
    with contextlib.suppress(ValueError, OSError):
        _stage_path(token).unlink(missing_ok=True)


def _purge_stale() -> None:
    """Uploads nobody confirmed: removed once they can no longer be confirmed anyway."""
    cutoff = time.time() - STAGE_MAX_AGE
    for path in _stage_dir().glob("*.signed"):
        try:
            if path.stat().st_mtime < cutoff:
                path.unlink(missing_ok=True)
        except OSError:
            continue


# ---- export -----------------------------------------------------------------------------------

EXPORT_COLUMNS = ("id", *COLUMNS, "created_at")


def export_cell(value: Any) -> str:
    """A cell a spreadsheet will show as text, never run as a formula."""
    if value is None:
        return ""
    text = value.isoformat() if isinstance(value, datetime.date) else str(value)
    if text.startswith(FORMULA_PREFIXES):
        return "'" + text
    return text
