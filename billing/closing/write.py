"""Writing a chunk's draft invoices: replace, never accumulate.

Within the caller's transaction: upsert one invoice row per (partner, currency) — the same row on
every re-rating, so links to a draft keep working — and delete the chunk partners' draft invoices
that this rating no longer produces. Then the lines:

- of an invoice row just created (a first close), COPY straight into the table;
- of an invoice that already had lines (a re-rating), COPY into a temporary staging table and
  merge by (invoice, position): a line whose values did not change is left alone, a changed one
  is updated in place, positions beyond the new lines are deleted and new positions inserted.
  Re-rating after a little late usage then writes only what moved, and skips the foreign-key
  checks a delete and insert of every line would cost.

Either way the result depends only on the drafts, so a chunk written twice leaves the rows of one
write (line ids aside: a re-rating keeps the ids of the positions it keeps).
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence

import orjson
from django.db import connection

from billing.closing.adjustments import stored_quantity
from billing.closing.drafts import DraftInvoice
from billing.models import Invoice, InvoiceLine

_INVOICE = Invoice._meta.db_table
_LINE = InvoiceLine._meta.db_table

_UPSERT = f"""
    INSERT INTO {_INVOICE} (period_id, partner_id, currency, status, subtotal, discount, tax, total,
        discount_pct, tax_rate, tier_name, bill_to_name, bill_to_email, bill_to_address,
        bill_to_country, created_at, updated_at)
    SELECT %s, p, c, 'draft', s, d, t, tot, dp, tr, tn, bn, be, ba, bc, %s, %s
    FROM unnest(%s::bigint[], %s::varchar[], %s::numeric[], %s::numeric[], %s::numeric[],
                %s::numeric[], %s::numeric[], %s::numeric[], %s::varchar[], %s::varchar[],
                %s::varchar[], %s::text[], %s::varchar[])
        AS x(p, c, s, d, t, tot, dp, tr, tn, bn, be, ba, bc)
    ORDER BY p, c
    ON CONFLICT (period_id, partner_id, currency) DO UPDATE SET
        subtotal = EXCLUDED.subtotal, discount = EXCLUDED.discount, tax = EXCLUDED.tax,
        total = EXCLUDED.total, discount_pct = EXCLUDED.discount_pct,
        tax_rate = EXCLUDED.tax_rate, tier_name = EXCLUDED.tier_name,
        bill_to_name = EXCLUDED.bill_to_name, bill_to_email = EXCLUDED.bill_to_email,
        bill_to_address = EXCLUDED.bill_to_address, bill_to_country = EXCLUDED.bill_to_country,
        updated_at = EXCLUDED.updated_at
    RETURNING id, partner_id, currency, (xmax = 0) AS created
"""

_LINE_COLUMNS = (
    "invoice_id",
    "position",
    "client_id",
    "charge_id",
    "meter_id",
    "seats",
    "price_plan_code",
    "description",
    "quantity",
    "unit_price",
    "amount",
    "discount",
    "net_amount",
    "pooled",
    "tiers",
    "adjustment_of",
)


_STAGE = "billing_rating_lines_stage"  # temporary (pg_temp), one per connection
_COLUMN_LIST = ", ".join(_LINE_COLUMNS)
_VALUES = ", ".join(c for c in _LINE_COLUMNS if c not in ("invoice_id", "position"))
_SAME_PLACE = "l.invoice_id = s.invoice_id AND l.position = s.position"
_STORED = ", ".join(f"l.{c}" for c in _VALUES.split(", "))
_STAGED = ", ".join(f"s.{c}" for c in _VALUES.split(", "))


def write_drafts(
    *,
    period_id: int,
    partner_ids: Sequence[int],
    drafts: Sequence[DraftInvoice],
    now: datetime.datetime,
) -> tuple[int, int]:
    """Replace the period's draft invoices of `partner_ids` by `drafts`: (invoices, lines)."""
    partner_ids = list(partner_ids)
    kept: list[int] = []
    created: set[int] = set()
    ids: dict[tuple[int, str], int] = {}
    with connection.cursor() as cursor:
        if drafts:
            columns = list(
                zip(
                    *(
                        (
                            d.partner_id,
                            d.currency,
                            d.subtotal,
                            d.discount,
                            d.tax,
                            d.total,
                            d.discount_pct,
                            d.tax_rate,
                            d.tier_name,
                            d.bill_to_name,
                            d.bill_to_email,
                            d.bill_to_address,
                            d.bill_to_country,
                        )
                        for d in drafts
                    ),
                    strict=True,
                )
            )
            cursor.execute(_UPSERT, [period_id, now, now, *[list(c) for c in columns]])
            for pk, partner, currency, is_new in cursor.fetchall():
                ids[(partner, currency)] = pk
                if is_new:
                    created.add(pk)
            kept = list(ids.values())
        # The invoices this rating no longer produces (a partner whose clients all left, a
        # currency dropped): their lines, then themselves.
        cursor.execute(
            f"DELETE FROM {_LINE} WHERE invoice_id IN (SELECT id FROM {_INVOICE} "
            "WHERE period_id = %s AND partner_id = ANY(%s) AND number IS NULL "
            "AND NOT (id = ANY(%s)))",
            [period_id, partner_ids, kept],
        )
        cursor.execute(
            f"DELETE FROM {_INVOICE} WHERE period_id = %s AND partner_id = ANY(%s) "
            "AND number IS NULL AND NOT (id = ANY(%s))",
            [period_id, partner_ids, kept],
        )
        if not drafts:
            return 0, 0
        fresh = [d for d in drafts if ids[(d.partner_id, d.currency)] in created]
        existing = [d for d in drafts if ids[(d.partner_id, d.currency)] not in created]
        lines = 0
        if fresh:
            lines += _copy_lines(cursor.cursor, _LINE, fresh, ids)
        if existing:
            lines += _merge_lines(cursor, existing, ids)
    return len(kept), lines


# COPY's text format (the default): a backslash and these characters are escaped in a value.
_ESCAPES = str.maketrans(
    {"\\": "\\\\", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\v": "\\v", "\f": "\\f", "\r": "\\r"}
)
_BOOL = {True: "t", False: "f"}
_NULL = "\\N"
_BATCH = 2000  # rows per write to the COPY stream


def _text(value: str, cache: dict[str, str]) -> str:
    """A text value as COPY reads it (lines repeat a handful of plan codes and descriptions)."""
    escaped = cache.get(value)
    if escaped is None:
        escaped = cache[value] = value.translate(_ESCAPES)
    return escaped


def _copy_lines(raw, table: str, drafts: Sequence[DraftInvoice], ids) -> int:
    """COPY the drafts' lines (positions from 1) into `table`; how many.

    The rows are formatted here as COPY text — what psycopg's write_row would send (str() of
    numbers, t/f, \\N, ISO dates, the same escapes), without its per-value dispatch."""
    written = 0
    texts: dict[str, str] = {}
    # Lines share their tiers (a pooled charge's, a tier pattern's): dump each once.
    tiers_text: dict[int, str] = {}
    rows: list[str] = []
    with raw.copy(f"COPY {table} ({_COLUMN_LIST}) FROM STDIN") as copy:
        for draft in drafts:
            invoice = str(ids[(draft.partner_id, draft.currency)])
            for position, line in enumerate(draft.lines, start=1):
                tiers = tiers_text.get(id(line.tiers))
                if tiers is None:
                    tiers = orjson.dumps(line.tiers).decode().translate(_ESCAPES)
                    tiers_text[id(line.tiers)] = tiers
                rows.append(
                    "\t".join(
                        (
                            invoice,
                            str(position),
                            str(line.client_id),
                            str(line.charge_id),
                            _NULL if line.meter_id is None else str(line.meter_id),
                            _BOOL[line.seats],
                            _text(line.price_plan_code, texts),
                            _text(line.description, texts),
                            str(stored_quantity(line.quantity)),
                            str(line.unit_price),
                            str(line.amount),
                            str(line.discount),
                            str(line.net_amount),
                            _BOOL[line.pooled],
                            tiers,
                            _NULL if line.adjustment_of is None else line.adjustment_of.isoformat(),
                        )
                    )
                )
                written += 1
                if len(rows) >= _BATCH:
                    copy.write("\n".join(rows) + "\n")
                    rows.clear()
        if rows:
            copy.write("\n".join(rows) + "\n")
    return written


def _merge_lines(cursor, drafts: Sequence[DraftInvoice], ids) -> int:
    """Make the lines of these existing invoices the drafts' lines, touching only what differs."""
    invoice_ids = [ids[(d.partner_id, d.currency)] for d in drafts]
    # The staging table has the lines' own column types, so values compare exactly as stored.
    cursor.execute(
        f"CREATE TEMPORARY TABLE IF NOT EXISTS {_STAGE} ON COMMIT DELETE ROWS AS "
        f"SELECT {_COLUMN_LIST} FROM {_LINE} WITH NO DATA"
    )
    cursor.execute(f"TRUNCATE {_STAGE}")
    written = _copy_lines(cursor.cursor, _STAGE, drafts, ids)
    # The staged positions of an invoice are 1..n. Where the stored ones are 1..m too (count ==
    # highest position), none is deleted unless m > n and none inserted unless m < n: the common
    # re-rating (every invoice keeps its number of lines) skips both anti-joins.
    cursor.execute(
        f"SELECT invoice_id, count(*), max(position) FROM {_LINE} WHERE invoice_id = ANY(%s) "
        "GROUP BY invoice_id",
        [invoice_ids],
    )
    stored = {invoice: (count, highest) for invoice, count, highest in cursor.fetchall()}
    staged = {ids[(d.partner_id, d.currency)]: len(d.lines) for d in drafts}
    contiguous = all(count == highest for count, highest in stored.values())
    fewer = not contiguous or any(stored.get(i, (0, 0))[0] < n for i, n in staged.items())
    more = not contiguous or any(stored.get(i, (0, 0))[0] > n for i, n in staged.items())
    cursor.execute(
        f"UPDATE {_LINE} l SET ({_VALUES}) = ({_STAGED}) FROM {_STAGE} s "
        f"WHERE l.invoice_id = ANY(%s) AND {_SAME_PLACE} "
        f"AND ({_STORED}) IS DISTINCT FROM ({_STAGED})",
        [invoice_ids],
    )
    if more:
        cursor.execute(
            f"DELETE FROM {_LINE} l WHERE l.invoice_id = ANY(%s) "
            f"AND NOT EXISTS (SELECT 1 FROM {_STAGE} s WHERE {_SAME_PLACE})",
            [invoice_ids],
        )
    if fewer:
        cursor.execute(
            f"INSERT INTO {_LINE} ({_COLUMN_LIST}) SELECT {_COLUMN_LIST} FROM {_STAGE} s "
            f"WHERE NOT EXISTS (SELECT 1 FROM {_LINE} l WHERE {_SAME_PLACE}) "
            "ORDER BY s.invoice_id, s.position"
        )
    return written
