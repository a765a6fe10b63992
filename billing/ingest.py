"""Usage ingestion, the fast path (ENGINEERING.md "Fast paths").

A batch of up to 1,000 events is checked by hand (no per-item serializers), its clients and meters
are resolved in one query each, and every valid event is written by ONE statement:

    INSERT … SELECT … FROM jsonb_array_elements(<the batch as one JSON document>)
    ORDER BY event_id ON CONFLICT (event_id) DO NOTHING RETURNING …

One parameter keeps the statement the same whatever the batch size and costs one round trip; the
document is written by orjson (C) and taken apart by PostgreSQL. Seven arrays through `unnest`
cost the server as much but ~3.5× the Python CPU (Django's psycopg cursor binds parameters
client-side, quoting every array element in Python); `benchmarks/ingest.py` measures the path.
Rows go in in event_id order so that two concurrent batches sharing events take the unique
index's locks in the same order and cannot deadlock; the one that loses a race for an event_id
sees it as a duplicate. An event is never updated: the first write of an event_id wins.
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import orjson
from django.db import connection, transaction
from django.utils import timezone

from partners.models import Client, Partner

from .enums import Aggregation
from .models import Meter
from .models_usage import QUANTITY_DIGITS, UsageEvent
from .services.periods import late_usage_note, latest_closed_end

MAX_BATCH = 1000
MAX_EVENT_ID = 255
FUTURE_LEEWAY = datetime.timedelta(minutes=5)
REQUIRED = ("event_id", "client", "meter", "quantity", "timestamp")
KNOWN = frozenset((*REQUIRED, "partner", "properties"))
_DECIMALS = QUANTITY_DIGITS["decimal_places"]
_INTEGER_DIGITS = QUANTITY_DIGITS["max_digits"] - _DECIMALS
_QUANTITY = re.compile(r"^-?(\d+)(?:\.(\d+))?$")


class BatchError(Exception):
    """The request as a whole is unusable (malformed JSON, wrong shape, too many events): nothing
    is stored. `status` is the HTTP status to answer."""

    def __init__(self, message: str, *, status: int = 400, slug: str = "invalid-batch"):
        super().__init__(message)
        self.status = status
        self.slug = slug


@dataclass
class IngestResult:
    accepted: int = 0
    duplicates: int = 0
    rejected: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"accepted": self.accepted, "duplicates": self.duplicates, "rejected": self.rejected}


@dataclass
class _Item:
    index: int
    event_id: str
    client: str
    partner: int | str | None
    meter: str
    quantity: Decimal
    timestamp: datetime.datetime
    properties: dict


def _error(name: str, code: str, message: str) -> dict[str, str]:
    return {"field": name, "code": code, "message": message}


def parse_batch(body: bytes) -> list[Any]:
    """The request body → a list of raw items (a single object is a batch of one)."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BatchError(f"The body is not valid JSON: {exc}.", slug="malformed-json") from exc
    if isinstance(data, dict):
        return [data]
    if not isinstance(data, list):
        raise BatchError("Send one usage event (a JSON object) or a list of them.")
    if not data:
        raise BatchError("The list of usage events is empty.")
    if len(data) > MAX_BATCH:
        raise BatchError(
            f"A batch holds at most {MAX_BATCH} events; this one has {len(data)}. Nothing was "
            "stored: split it and send the parts.",
            status=413,
            slug="batch-too-large",
        )
    return data


def _quantity(value: Any) -> tuple[Decimal | None, dict | None]:
    if isinstance(value, bool):
        value = None  # true/false are not numbers, even though Python says so
    if isinstance(value, float):
        return None, _error(
            "quantity",
            "float_not_allowed",
            "A JSON number with a fraction or exponent loses precision: send decimals as "
            'strings, e.g. "12.5".',
        )
    if isinstance(value, int):
        value = str(value)
    match = _QUANTITY.match(value) if isinstance(value, str) else None
    if match is None:
        return None, _error(
            "quantity",
            "invalid",
            'quantity must be a decimal number in a string (e.g. "12.5") or an integer.',
        )
    if value.startswith("-") and Decimal(value) != 0:
        return None, _error("quantity", "min_value", "quantity must not be negative.")
    integer, fraction = match[1].lstrip("0"), (match[2] or "").rstrip("0")
    if len(fraction) > _DECIMALS:
        return None, _error(
            "quantity",
            "max_decimal_places",
            f"quantity has more than {_DECIMALS} decimal places.",
        )
    if len(integer) > _INTEGER_DIGITS:
        return None, _error(
            "quantity", "max_value", f"quantity has more than {_INTEGER_DIGITS} integer digits."
        )
    return abs(Decimal(value)), None


def _timestamp(value: Any, now: datetime.datetime) -> tuple[datetime.datetime | None, dict | None]:
    parsed = None
    if isinstance(value, str) and len(value) >= 16 and "T" in value.upper():
        try:
            parsed = datetime.datetime.fromisoformat(value)
        except ValueError:
            parsed = None
    if parsed is None or parsed.tzinfo is None:
        return None, _error(
            "timestamp",
            "invalid",
            "timestamp must be an ISO 8601 date and time with its offset, e.g. "
            '"2026-10-05T14:30:00Z" or "2026-10-05T16:30:00+02:00".',
        )
    try:
        parsed = parsed.astimezone(datetime.UTC)
    except OverflowError:
        return None, _error("timestamp", "invalid", "timestamp is out of range.")
    if parsed > now + FUTURE_LEEWAY:
        return None, _error(
            "timestamp",
            "in_future",
            "timestamp is more than 5 minutes in the future; usage is reported after it happens.",
        )
    return parsed, None


def _check(index: int, raw: Any, now: datetime.datetime) -> tuple[_Item | None, list[dict]]:
    """One raw item: its shape and values, without the database."""
    if not isinstance(raw, dict):
        return None, [_error("", "invalid", "Each usage event must be a JSON object.")]
    errors = [
        _error(name, "unknown_field", f"Unknown field {name!r}.")
        for name in raw
        if name not in KNOWN
    ]
    errors += [
        _error(name, "required", "This field is required.")
        for name in REQUIRED
        if raw.get(name) is None
    ]
    missing = {e["field"] for e in errors}
    event_id, client, meter = raw.get("event_id"), raw.get("client"), raw.get("meter")
    for name, value, limit in (
        ("event_id", event_id, MAX_EVENT_ID),
        ("client", client, 100),
        ("meter", meter, 64),
    ):
        if name not in missing and (not isinstance(value, str) or not 1 <= len(value) <= limit):
            errors.append(
                _error(name, "invalid", f"{name} must be a string of 1 to {limit} characters.")
            )
    partner = raw.get("partner")
    if partner is not None and (
        isinstance(partner, bool)
        or not isinstance(partner, (int, str))
        or (isinstance(partner, str) and not 1 <= len(partner) <= 100)
    ):
        errors.append(
            _error("partner", "invalid", "partner must be the partner's id or external_id.")
        )
    quantity = timestamp = None
    if "quantity" not in missing:
        quantity, error = _quantity(raw["quantity"])
        errors += [error] if error else []
    if "timestamp" not in missing:
        timestamp, error = _timestamp(raw["timestamp"], now)
        errors += [error] if error else []
    properties = raw.get("properties")
    if properties is None:
        properties = {}
    elif not isinstance(properties, dict):
        errors.append(_error("properties", "invalid", "properties must be a JSON object."))
    if errors:
        return None, errors
    return _Item(index, event_id, client, partner, meter, quantity, timestamp, properties), []


def _partner_matches(given: int | str, partner_id: int, external_id: str) -> bool:
    """`partner` names a partner by id (a number, or digits in a string) or by external_id."""
    if isinstance(given, int):
        return given == partner_id
    return given == external_id or given == str(partner_id)


def ingest_batch(items: list[Any], *, caller_partner_id: int | None) -> IngestResult:
    """Check, resolve and write one batch. `caller_partner_id`: a partner key's partner (its
    events are for its own clients only; `partner` may be left out), None for a vendor key
    (`partner` is required: client external_ids are unique per partner only)."""
    now = timezone.now()
    errors_by_index: dict[int, list[dict]] = {}
    checked: list[_Item] = []
    for index, raw in enumerate(items):
        item, errors = _check(index, raw, now)
        if errors:
            errors_by_index[index] = errors
        else:
            checked.append(item)

    own_external_id = ""
    if caller_partner_id is not None:
        if any(isinstance(i.partner, str) for i in checked):
            own_external_id = (
                Partner.objects.filter(pk=caller_partner_id)
                .values_list("external_id", flat=True)
                .first()
            ) or ""
        for item in list(checked):
            if item.partner is not None and not _partner_matches(
                item.partner, caller_partner_id, own_external_id
            ):
                errors_by_index[item.index] = [
                    _error(
                        "partner",
                        "forbidden",
                        "A partner key reports usage for its own partner's clients only.",
                    )
                ]
                checked.remove(item)
    else:
        for item in list(checked):
            if item.partner is None:
                errors_by_index[item.index] = [
                    _error("partner", "required", "Vendor keys name the client's partner.")
                ]
                checked.remove(item)

    # Query 1: every client the batch names, with its partner's keys to match `partner` against.
    clients: dict[str, list[tuple[int, int, str]]] = {}
    external_ids = {item.client for item in checked}
    if external_ids:
        rows = Client.objects.filter(external_id__in=external_ids).order_by()
        if caller_partner_id is not None:
            rows = rows.filter(partner_id=caller_partner_id)
        for pk, external_id, partner_id, partner_external_id in rows.values_list(
            "pk", "external_id", "partner_id", "partner__external_id"
        ):
            clients.setdefault(external_id, []).append((pk, partner_id, partner_external_id))
    # Query 2: the meters, with the property a unique_count meter counts (copied to the event's
    # unique_value by the insert).
    codes = {item.meter for item in checked}
    meters: dict[str, tuple[int, str | None]] = {}
    if codes:
        for code, pk, kind, unique_property in Meter.objects.filter(code__in=codes).values_list(
            "code", "pk", "aggregation", "unique_property"
        ):
            meters[code] = (pk, unique_property if kind == Aggregation.UNIQUE_COUNT else None)

    rows_by_event: dict[str, tuple] = {}
    duplicates_in_batch = 0
    for item in checked:
        errors = []
        match = None
        for pk, partner_id, partner_external_id in clients.get(item.client, ()):
            if item.partner is None or _partner_matches(
                item.partner, partner_id, partner_external_id
            ):
                match = (pk, partner_id)
                break
        if match is None:
            where = f" of partner {item.partner!r}" if item.partner is not None else ""
            errors.append(_error("client", "not_found", f"No client {item.client!r}{where}."))
        meter_id, unique_property = meters.get(item.meter, (None, None))
        if meter_id is None:
            errors.append(_error("meter", "not_found", f"No meter with code {item.meter!r}."))
        if errors:
            errors_by_index[item.index] = errors
        elif item.event_id in rows_by_event:
            duplicates_in_batch += 1  # the first one in the batch wins, like a later batch
        else:
            rows_by_event[item.event_id] = (
                item.event_id,
                match[1],
                match[0],
                meter_id,
                item.quantity,
                item.timestamp,
                orjson.dumps(item.properties).decode(),
                unique_property,
            )

    inserted = _insert(list(rows_by_event.values()), now) if rows_by_event else 0
    return IngestResult(
        accepted=inserted,
        duplicates=duplicates_in_batch + len(rows_by_event) - inserted,
        rejected=[
            {"index": index, "errors": errors_by_index[index]} for index in sorted(errors_by_index)
        ],
    )


_TABLE = UsageEvent._meta.db_table
# One parameter: [[event_id, partner_id, client_id, meter_id, "quantity", "timestamp", {…},
# unique property or null], …]. The unique value is read from the stored properties by the same
# operator rating used to apply to them (`properties->>name`), so it is the very same text.
_INSERT = f"""
    INSERT INTO {_TABLE} (event_id, partner_id, client_id, meter_id, quantity, timestamp,
                          properties, unique_value)
    SELECT e->>0, (e->>1)::bigint, (e->>2)::bigint, (e->>3)::bigint, (e->>4)::numeric,
           (e->>5)::timestamptz, e->6, (e->6)->>(e->>7)
    FROM jsonb_array_elements(%s::jsonb) AS e
    ORDER BY 1
    ON CONFLICT (event_id) DO NOTHING
    RETURNING partner_id, timestamp
"""


def _insert(rows: list[tuple], now: datetime.datetime) -> int:
    """One statement for the whole batch; the number of rows it actually wrote. Events for a
    period already being rated, reviewed or finalized are reported to the close (late usage) in
    the same transaction — checked only when the batch reaches back that far (one small query)."""
    # quantity as a string (numeric, exactly); properties are JSON text already.
    document = orjson.dumps(
        [
            (e, p, c, m, str(q), t, orjson.Fragment(props), unique)
            for e, p, c, m, q, t, props, unique in rows
        ]
    ).decode()
    with transaction.atomic(), connection.cursor() as cursor:
        closed_until = latest_closed_end()
        cursor.execute(_INSERT, [document])
        written = cursor.fetchall()
        if closed_until is not None and min(row[5] for row in rows) < closed_until:
            late_usage_note([r for r in written if r[1] < closed_until], now=now)
        return len(written)


def unique_values_fill() -> int:
    """For bulk loads that bypass `ingest_batch` (the demo's COPY of its history): give the events
    of unique_count meters their `unique_value` as ingest would. Returns the rows it filled."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            UPDATE {_TABLE} e SET unique_value = e.properties ->> m.unique_property
            FROM {Meter._meta.db_table} m
            WHERE m.id = e.meter_id AND m.aggregation = %s AND e.unique_value IS NULL
              AND e.properties ? m.unique_property
            """,
            [Aggregation.UNIQUE_COUNT],
        )
        return cursor.rowcount
