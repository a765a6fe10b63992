"""Usage CSV files: reading them row by row into the items `billing.ingest.ingest_batch` takes, and
checking rows exactly as ingest will (without writing anything), for the preview.

The file: UTF-8 (a byte-order mark is fine), a header row naming the columns (any order), then one
usage event per row:

- `event_id` — your unique id of the event (a repeat is counted once, never stored twice);
- `client` — the client's external_id;
- `meter` — the meter's code;
- `quantity` — a decimal number, not negative, at most 6 decimals (`12.5`);
- `timestamp` — ISO 8601 with its offset (`2026-10-05T14:30:00Z`);
- `properties` — optional column: a JSON object (`{"device_id": "dev-42"}`), may be empty.

Console files also have a `partner` column (the partner's id or external_id): client external ids
are unique per partner only. Portal files have no such column; their rows name the uploading
partner's clients.

Rows are numbered by their line in the file (the header is line 1); blank lines are skipped.
Reading is streamed: a 50 MB file is never held in memory.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import datetime
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import orjson
from django.utils import timezone

from partners.models import Client

from .errors import BillingError
from .ingest import _check, _partner_matches  # the one definition of a valid event
from .models import Meter

COLUMNS = ("event_id", "client", "meter", "quantity", "timestamp", "properties")
CONSOLE_COLUMNS = ("event_id", "partner", "client", "meter", "quantity", "timestamp", "properties")
OPTIONAL_COLUMNS = frozenset({"properties"})
TEMPLATE_ROWS = (
    ("evt-2026-03-0001", "CONTOSO-001", "storage_gb", "12.5", "2026-03-01T09:00:00Z", ""),
    (
        "evt-2026-03-0002",
        "CONTOSO-001",
        "devices",
        "1",
        "2026-03-01T09:00:00+01:00",
        '{"device_id": "dev-42"}',
    ),
)
CONSOLE_TEMPLATE_PARTNER = "P-1001"
# How many row errors an import keeps to show (the counts are always complete).
MAX_ROW_ERRORS = 50
_SNIFF_BYTES = 64 * 1024

# ingest's messages speak of JSON bodies and API keys; in a CSV file they read like this.
_CSV_MESSAGES = {
    ("quantity", "invalid"): "quantity must be a decimal number, e.g. 12.5 (no thousands "
    "separators, a dot for decimals).",
    ("partner", "required"): "partner is required: the partner's id or external_id (client ids "
    "are unique per partner only).",
    ("partner", "invalid"): "partner must be the partner's id or external_id.",
}


def columns_for(*, with_partner: bool) -> tuple[str, ...]:
    return CONSOLE_COLUMNS if with_partner else COLUMNS


def template_rows(*, with_partner: bool) -> list[tuple[str, ...]]:
    if not with_partner:
        return [tuple(row) for row in TEMPLATE_ROWS]
    return [(row[0], CONSOLE_TEMPLATE_PARTNER, *row[1:]) for row in TEMPLATE_ROWS]


def row_error(field: str, code: str, message: str) -> dict[str, str]:
    return {"field": field, "code": code, "message": _CSV_MESSAGES.get((field, code), message)}


def csv_errors(errors: Iterable[dict[str, str]]) -> list[dict[str, str]]:
    """ingest's per-item errors, worded for a CSV file."""
    return [row_error(e.get("field", ""), e.get("code", ""), e.get("message", "")) for e in errors]


# ---- reading ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CsvRow:
    """One data row: `item` is what ingest takes (None when the row itself is unusable, e.g. a
    wrong number of values or properties that are not a JSON object — `errors` says why)."""

    line: int
    item: dict[str, Any] | None
    errors: tuple[dict[str, str], ...] = ()
    cells: tuple[str, ...] = ()


def _check_header(header: list[str], *, with_partner: bool) -> list[str]:
    columns = [cell.strip().lower() for cell in header]
    expected = columns_for(with_partner=with_partner)
    required = [c for c in expected if c not in OPTIONAL_COLUMNS]
    unknown = [c for c in columns if c not in expected]
    missing = [c for c in required if c not in columns]
    repeated = sorted(c for c, n in Counter(columns).items() if n > 1)
    if unknown or missing or repeated:
        problems = []
        if missing:
            problems.append("missing " + ", ".join(missing))
        if unknown:
            problems.append("unknown " + ", ".join(c or "(empty)" for c in unknown))
        if repeated:
            problems.append("repeated " + ", ".join(repeated))
        raise BillingError(
            f"The header row must be {','.join(required)}[,properties] ({'; '.join(problems)}).",
            field="file",
        )
    return columns


def _item(
    cells: list[str], columns: list[str], *, with_partner: bool
) -> tuple[dict[str, Any] | None, dict[str, str] | None]:
    values = dict(zip(columns, (cell.strip() for cell in cells), strict=False))
    item: dict[str, Any] = {}
    for name in ("event_id", "client", "meter", "quantity", "timestamp"):
        value = values.get(name, "")
        if value:  # an empty cell is a missing value: ingest says "This field is required."
            item[name] = value
    if with_partner and values.get("partner"):
        item["partner"] = values["partner"]
    properties = values.get("properties", "")
    if properties:
        try:
            parsed = orjson.loads(properties)
        except orjson.JSONDecodeError:
            return None, row_error(
                "properties",
                "invalid",
                'properties is not valid JSON; write a JSON object, e.g. {"device_id": "dev-42"}.',
            )
        if not isinstance(parsed, dict):
            return None, row_error("properties", "invalid", "properties must be a JSON object.")
        item["properties"] = parsed
    return item, None


def read_rows(stream: IO[bytes], *, with_partner: bool) -> Iterator[CsvRow]:
    """The rows of a usage CSV, one at a time. Raises BillingError (field "file") when the file
    as a whole cannot be used: not UTF-8, not CSV, empty, a wrong header. A decoding or CSV
    error further down the file is raised when the reading gets there."""
    head = stream.read(_SNIFF_BYTES)
    if b"\x00" in head:
        raise BillingError("This is not a CSV file.", field="file")
    stream.seek(0)
    reader = csv.reader(_decoded_lines(stream))
    try:
        header = next(reader, None)
        while header is not None and not any(cell.strip() for cell in header):
            header = next(reader, None)
        if header is None:
            raise BillingError("The file is empty.", field="file")
        columns = _check_header(header, with_partner=with_partner)
        for cells in reader:
            if not any(cell.strip() for cell in cells):
                continue  # blank lines are not rows
            line = reader.line_num
            if len(cells) != len(columns):
                error = row_error(
                    "", "invalid", f"Expected {len(columns)} values, found {len(cells)}."
                )
                yield CsvRow(line, None, (error,), tuple(cells))
                continue
            item, error = _item(cells, columns, with_partner=with_partner)
            if error is not None:
                yield CsvRow(line, None, (error,), tuple(cells))
            else:
                yield CsvRow(line, item, (), tuple(cells))
    except csv.Error as exc:
        raise BillingError(
            f"The file is not valid CSV (line {reader.line_num}: {exc}).", field="file"
        ) from None


def _decoded_lines(stream: IO[bytes]) -> Iterator[str]:
    """The file's lines as text (line endings kept, as csv wants them), decoded one at a time so
    that a byte that is not UTF-8 is reported with its line."""
    for number, raw in enumerate(stream, start=1):
        if number == 1 and raw.startswith(codecs.BOM_UTF8):
            raw = raw[len(codecs.BOM_UTF8) :]
        try:
            yield raw.decode("utf-8")
        except UnicodeDecodeError:
            raise BillingError(
                f"The file is not UTF-8 text (line {number}). Save it as “CSV UTF-8” and "
                "upload it again.",
                field="file",
            ) from None


def read_file_rows(path: Path, *, with_partner: bool) -> Iterator[CsvRow]:
    with path.open("rb") as stream:
        yield from read_rows(stream, with_partner=with_partner)


def chunked(rows: Iterable[CsvRow], size: int) -> Iterator[list[CsvRow]]:
    chunk: list[CsvRow] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


# ---- checking (what ingest would say, without writing) ----------------------------------------


class RowChecker:
    """Checks rows as `ingest_batch(items, caller_partner_id=…)` would, without writing: the same
    per-item checks, then clients and meters resolved against the database. Clients already
    looked up are remembered, so a file naming a few hundred clients costs a few queries."""

    def __init__(self, *, caller_partner_id: int | None, now: datetime.datetime | None = None):
        self.caller_partner_id = caller_partner_id
        self.now = now or timezone.now()
        self._meters: dict[str, int] | None = None
        self._clients: dict[str, list[tuple[int, int, str]]] = {}
        self._own_external_id: str | None = None

    def _meter_ids(self) -> dict[str, int]:
        if self._meters is None:
            self._meters = dict(Meter.objects.values_list("code", "pk"))
        return self._meters

    def _load_clients(self, external_ids: set[str]) -> None:
        unseen = external_ids - self._clients.keys()
        if not unseen:
            return
        rows = Client.objects.filter(external_id__in=unseen)
        if self.caller_partner_id is not None:
            rows = rows.filter(partner_id=self.caller_partner_id)
        for external_id in unseen:
            self._clients[external_id] = []
        for pk, external_id, partner_id, partner_external_id in rows.values_list(
            "pk", "external_id", "partner_id", "partner__external_id"
        ):
            self._clients[external_id].append((pk, partner_id, partner_external_id or ""))

    def check(self, rows: list[CsvRow]) -> list[tuple[CsvRow, list[dict[str, str]]]]:
        """Each row with its errors (an empty list: ingest will accept it, or count it as a
        duplicate)."""
        shaped = []
        results: list[tuple[CsvRow, list[dict[str, str]]]] = []
        for row in rows:
            if row.item is None:
                results.append((row, list(row.errors)))
                continue
            item, errors = _check(row.line, row.item, self.now)
            if errors:
                results.append((row, csv_errors(errors)))
            else:
                shaped.append((row, item))
                results.append((row, []))
        self._load_clients({item.client for _, item in shaped})
        meters = self._meter_ids()
        errors_by_line: dict[int, list[dict[str, str]]] = {}
        for row, item in shaped:
            errors = []
            if self.caller_partner_id is None and item.partner is None:
                errors.append(row_error("partner", "required", ""))
            else:
                match = any(
                    item.partner is None or _partner_matches(item.partner, partner_id, external)
                    for _pk, partner_id, external in self._clients.get(item.client, ())
                )
                if not match:
                    where = f" of partner {item.partner!r}" if item.partner is not None else ""
                    errors.append(
                        row_error("client", "not_found", f"No client {item.client!r}{where}.")
                    )
            if item.meter not in meters:
                errors.append(
                    row_error("meter", "not_found", f"No meter with code {item.meter!r}.")
                )
            if errors:
                errors_by_line[row.line] = errors
        return [(row, errors_by_line.get(row.line, errors)) for row, errors in results]


@dataclass
class CheckSummary:
    total_rows: int = 0
    invalid_rows: int = 0
    errors: list[dict[str, Any]] | None = None  # the first MAX_ROW_ERRORS, in row order

    @property
    def valid_rows(self) -> int:
        return self.total_rows - self.invalid_rows


def check_file(
    path: Path,
    *,
    with_partner: bool,
    caller_partner_id: int | None,
    chunk_size: int = 1000,
    on_progress: Callable[[CheckSummary], None] | None = None,
) -> CheckSummary:
    """Every row of the file checked; the counts and the first row errors. `on_progress` is
    called with the counts so far after each chunk of rows."""
    checker = RowChecker(caller_partner_id=caller_partner_id)
    summary = CheckSummary(errors=[])
    rows = read_file_rows(path, with_partner=with_partner)
    with contextlib.closing(rows):
        for chunk in chunked(rows, chunk_size):
            for row, errors in checker.check(chunk):
                summary.total_rows += 1
                if errors:
                    summary.invalid_rows += 1
                    if len(summary.errors) < MAX_ROW_ERRORS:
                        summary.errors.append({"row": row.line, "errors": errors})
            if on_progress is not None:
                on_progress(summary)
    return summary


def has_rows(path: Path, *, with_partner: bool) -> bool:
    """Whether the file has a usable header and at least one row (BillingError if the header
    or the start of the file is wrong). Reads only as far as the first row."""
    rows = read_file_rows(path, with_partner=with_partner)
    with contextlib.closing(rows):
        return next(rows, None) is not None


def row_count_bound(path: Path) -> int:
    """An upper bound of the number of rows, from the number of lines (blank lines and cells
    spanning lines make the real count lower), without parsing: for a progress bar."""
    lines = 0
    last = b"\n"
    with path.open("rb") as stream:
        while block := stream.read(1024 * 1024):
            lines += block.count(b"\n")
            last = block[-1:]
    if last != b"\n":
        lines += 1
    return max(lines - 1, 0)  # the header


def sample_valid_rows(
    path: Path, *, with_partner: bool, caller_partner_id: int | None, limit: int = 10
) -> list[CsvRow]:
    """The first `limit` valid rows (from at most the first 1,000 rows), for the preview."""
    checker = RowChecker(caller_partner_id=caller_partner_id)
    rows = read_file_rows(path, with_partner=with_partner)
    first = []
    with contextlib.closing(rows):
        for row in rows:
            first.append(row)
            if len(first) == 1000:
                break
    return [row for row, errors in checker.check(first) if not errors][:limit]
