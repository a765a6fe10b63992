"""Posting to the commission ledger: the one way entries are written.

`post_entries` takes unsaved `LedgerEntry` objects (no statement yet), puts each on its
partner's draft statement for the entry's month — or, when that statement is already approved,
on the partner's next draft statement — and inserts them with ON CONFLICT (source_key) DO
NOTHING, so posting a fact twice writes it once. The draft statements that received new entries
get their figures moved by what those entries bring, in the same statement as the insert
(figures are kept equal to the sums of a draft's entries; `statements_refresh` recomputes them
from scratch). Call it inside the caller's transaction (it locks the statements
it uses, so approval, which locks the statement too, never misses an entry).

Built for month-end volume (an accrual posts one entry per invoice and product for thousands of
partners): missing statements are created by one INSERT (their opening figures by one set-based
UPDATE), and the entries go in as one `INSERT … SELECT FROM unnest(…)` per batch that also moves
the figures of the statements they land on.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Sequence
from decimal import Decimal

from django.db import connection, transaction
from django.utils import timezone

from billing.closing.rate import next_month
from core.money import ZERO

from ..models import LedgerEntry, Statement, StatementStatus

__all__ = ["ROW_FIELDS", "post_entries", "post_rows", "statement_refresh", "statements_refresh"]

BATCH = 20000  # rows per INSERT (a month-end accrual is one statement)

# Statement figure ← entry kinds summed into it (payouts are not a figure: they pay the balance
# that the figures make up).
_FIGURES: dict[str, tuple[str, ...]] = {
    "accrued": ("accrual",),
    "bonuses": ("growth_bonus", "new_client_bonus"),
    "clawbacks": ("clawback",),
    "adjustments": ("adjustment", "payout_reversal"),
}

# (column, unnest array type) in insert order.
_COLUMNS: tuple[tuple[str, str], ...] = (
    ("partner_id", "bigint"),
    ("statement_id", "bigint"),
    ("currency", "text"),
    ("kind", "text"),
    ("month", "date"),
    ("amount", "numeric"),
    ("basis", "numeric"),
    ("rate_pct", "numeric"),
    ("multiplier", "numeric"),
    ("description", "text"),
    ("source_key", "text"),
    ("invoice_id", "bigint"),
    ("product_id", "bigint"),
    ("client_id", "bigint"),
    ("credit_note_id", "bigint"),
    ("payout_id", "bigint"),
    ("reverses_id", "bigint"),
)


Key = tuple[int, str, datetime.date]  # (partner, currency, month)

# An entry as a plain row: the columns of _COLUMNS but the statement, in that order.
ROW_FIELDS: tuple[str, ...] = tuple(name for name, _ in _COLUMNS if name != "statement_id")
_KEY_AT = ROW_FIELDS.index("source_key")
_PARTNER_AT, _CURRENCY_AT, _MONTH_AT = (
    ROW_FIELDS.index("partner_id"),
    ROW_FIELDS.index("currency"),
    ROW_FIELDS.index("month"),
)


def _locked_statements(keys: list[Key]) -> dict[Key, tuple[int, str]]:
    """(partner, currency, month) → (id, status) of those statements, locked (in id order)."""
    table = Statement._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT s.id, s.partner_id, s.currency, s.month, s.status FROM {table} s "
            "JOIN unnest(%s::bigint[], %s::text[], %s::date[]) AS w(partner_id, currency, month) "
            "ON s.partner_id = w.partner_id AND s.currency = w.currency AND s.month = w.month "
            "ORDER BY s.id FOR UPDATE OF s",
            [[k[0] for k in keys], [k[1] for k in keys], [k[2] for k in keys]],
        )
        return {(p, c, m): (pk, status) for pk, p, c, m, status in cursor.fetchall()}


def _create_statements(
    keys: list[Key], openings: dict[tuple[int, str], tuple[datetime.date, Decimal]]
) -> dict[Key, tuple[int, str]]:
    """Insert draft statements for `keys` (ON CONFLICT DO NOTHING) in one statement, with the
    figures `statements_refresh` would give a statement without entries: it opens with what the
    partner's latest approved statement carried forward (`openings`, from `_latest_approved`;
    a new draft always comes after it) and holds what its earlier statements' open disputes hold
    (those amounts were carried forward too). Every other column gets its model default, read
    from the model so added fields are covered. Answers the ones this call created — new rows,
    which no other transaction sees before the commit: no lock needed."""
    now = timezone.now()
    table = Statement._meta.db_table
    held = _open_disputes(keys)
    opening = [openings.get((p, c), (None, ZERO))[1] for p, c, _ in keys]
    holding = [held.get(key, ZERO) for key in keys]
    given = {
        "partner_id": "w.partner_id",
        "currency": "w.currency",
        "month": "w.month",
        "opening_balance": "w.opening",
        "carried_forward": "w.opening",
        "held": "w.held",
        "payable": "GREATEST(w.opening - w.held, 0)",
    }
    columns, values, params = [], [], []
    for field in Statement._meta.concrete_fields:
        if field.primary_key:
            continue
        columns.append(f'"{field.column}"')
        if field.attname in given:
            values.append(given[field.attname])
        else:
            auto = getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False)
            values.append(f"%s::{_array_type(field.db_type(connection))}")
            params.append(now if auto else field.get_default())
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} ({', '.join(columns)}) SELECT {', '.join(values)} "
            "FROM unnest(%s::bigint[], %s::text[], %s::date[], %s::numeric[], %s::numeric[]) "
            "AS w(partner_id, currency, month, opening, held) "
            "ON CONFLICT DO NOTHING RETURNING id, partner_id, currency, month, status",
            [
                *params,
                _array_literal([k[0] for k in keys]),
                _array_literal([k[1] for k in keys], text=True),
                _array_literal([k[2] for k in keys], text=True),
                _array_literal(opening),
                _array_literal(holding),
            ],
        )
        return {(p, c, m): (pk, status) for pk, p, c, m, status in cursor.fetchall()}


def _open_disputes(keys: list[Key]) -> dict[Key, Decimal]:
    """(partner, currency, month) → Σ held by open disputes of the partner's statements up to
    that month (usually nothing: one query that finds no rows)."""
    pairs = sorted({(p, c) for p, c, _ in keys})
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT s.partner_id, s.currency, s.month, sum(d.held_amount) "
            f"FROM incentives_statementdispute d JOIN {Statement._meta.db_table} s "
            "ON s.id = d.statement_id "
            "JOIN unnest(%s::bigint[], %s::text[]) AS w(partner_id, currency) "
            "ON s.partner_id = w.partner_id AND s.currency = w.currency "
            "WHERE d.status = 'open' GROUP BY 1, 2, 3",
            [[p for p, _ in pairs], [c for _, c in pairs]],
        )
        disputed = cursor.fetchall()
    held: dict[Key, Decimal] = {}
    for key in keys:
        total = sum(
            (amount for p, c, month, amount in disputed if (p, c) == key[:2] and month <= key[2]),
            ZERO,
        )
        if total:
            held[key] = total
    return held


def _array_type(db_type: str) -> str:
    # "varchar(3)" → "varchar": an array cast takes the plain type.
    return db_type.split("(")[0] if not db_type.startswith("numeric") else "numeric"


def _latest_approved(
    pairs: set[tuple[int, str]],
) -> dict[tuple[int, str], tuple[datetime.date, Decimal]]:
    """(partner, currency) → (month, carried forward) of its latest statement that is no longer
    a draft."""
    if not pairs:
        return {}
    table = Statement._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT DISTINCT ON (s.partner_id, s.currency) s.partner_id, s.currency, s.month, "
            f"s.carried_forward FROM {table} s "
            "JOIN unnest(%s::bigint[], %s::text[]) AS w(partner_id, currency) "
            "ON s.partner_id = w.partner_id AND s.currency = w.currency "
            "WHERE s.status <> %s ORDER BY s.partner_id, s.currency, s.month DESC",
            [[p for p, _ in pairs], [c for _, c in pairs], StatementStatus.DRAFT],
        )
        return {(p, c): (month, carried) for p, c, month, carried in cursor.fetchall()}


def _draft_statements(wanted: set[Key]) -> dict[Key, int]:
    """(partner, currency, month) → the id of the draft statement its entries go to, locked:
    that month's, or the first later month's when that month's statement is already approved."""
    result: dict[Key, int] = {}
    # Never behind an approved statement: the balance chains month to month, so an entry of a
    # month before the partner's latest approved statement goes to the first draft after it.
    approved = _latest_approved({(p, c) for p, c, _ in wanted})
    frontier = {}  # wanted key → month tried now
    for key in wanted:
        latest = approved[(key[0], key[1])][0] if (key[0], key[1]) in approved else None
        start = key[2] if latest is None or key[2] > latest else next_month(latest)
        frontier[key] = (key[0], key[1], start)
    for _ in range(240):  # 20 years of approved statements ahead of an entry is plenty
        if not frontier:
            return result
        candidates = sorted(set(frontier.values()))
        found = _locked_statements(candidates)
        missing = [key for key in candidates if key not in found]
        if missing:
            found.update(_create_statements(missing, approved))
            # Created meanwhile by a concurrent posting (committed): lock those.
            raced = [key for key in missing if key not in found]
            if raced:
                found.update(_locked_statements(raced))
        later = {}
        for key, tried in frontier.items():
            statement_id, status = found[tried]
            if status == StatementStatus.DRAFT:
                result[key] = statement_id
            else:
                later[key] = (tried[0], tried[1], next_month(tried[2]))
        frontier = later
    raise RuntimeError("No draft statement within 20 years of an entry's month.")


def _quoted(value: object) -> str:
    if value is None:
        return "NULL"
    text = value.isoformat() if isinstance(value, datetime.datetime) else str(value)
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _array_literal(values: list, *, text: bool = False) -> str:
    """An array literal ('{1.50,NULL}', '{"a \\"b\\"",NULL}'): psycopg's per-value dumping of
    Python lists is the slow part of a month-end insert; a Decimal's, int's or date's str() is
    exactly its value. Columns without NULLs (and, for text, without quotes or backslashes — all
    but rare descriptions) are joined in one go."""
    if not values:
        return "{}"
    if None in values:
        if values.count(None) == len(values):
            return "{" + ",".join(["NULL"] * len(values)) + "}"
        if text:
            return "{" + ",".join(_quoted(v) for v in values) + "}"
        return "{" + ",".join("NULL" if v is None else str(v) for v in values) + "}"
    texts = list(map(str, values))
    if not text:
        return "{" + ",".join(texts) + "}"
    raw = "".join(texts)
    if '"' in raw or "\\" in raw:
        return "{" + ",".join(map(_quoted, texts)) + "}"
    return '{"' + '","'.join(texts) + '"}'


def _insert_sql() -> str:
    """One statement: insert the rows (ON CONFLICT (source_key) DO NOTHING) and add what the new
    ones bring to their draft statements' figures; answers the number of new entries."""
    table = LedgerEntry._meta.db_table
    statement = Statement._meta.db_table
    names = ", ".join(name for name, _ in _COLUMNS)
    arrays = ", ".join(f"%s::{kind}[]" for _, kind in _COLUMNS)
    every = ", ".join(f"'{kind}'" for kinds in _FIGURES.values() for kind in kinds)
    sums = ", ".join(
        f"COALESCE(sum(amount) FILTER (WHERE kind IN ({_kinds(figure)})), 0) AS {figure}"
        for figure in _FIGURES
    )
    updates = ", ".join(f"{figure} = s.{figure} + d.{figure}" for figure in _FIGURES)
    return f"""
    WITH new AS (
        INSERT INTO {table} ({names}, created_at)
        SELECT *, now() FROM unnest({arrays})
        ON CONFLICT (source_key) DO NOTHING
        RETURNING statement_id, kind, amount
    ), delta AS (
        SELECT statement_id, {sums},
            COALESCE(sum(amount) FILTER (WHERE kind IN ({every})), 0) AS total,
            count(*) AS entries
        FROM new GROUP BY statement_id
    ), moved AS (
        UPDATE {statement} s SET {updates},
            carried_forward = s.carried_forward + d.total,
            payable = GREATEST(s.carried_forward + d.total - s.held, 0),
            updated_at = now()
        FROM delta d WHERE s.id = d.statement_id AND s.status = 'draft'
    )
    SELECT COALESCE(sum(entries), 0) FROM delta
    """


def _insert(rows: Sequence[tuple], statements: list[int]) -> int:
    """Insert the rows on their statements; the number of new entries."""
    sql = _insert_sql()
    new = 0
    with connection.cursor() as cursor:
        for start in range(0, len(rows), BATCH):
            batch = rows[start : start + BATCH]
            columns = list(zip(*batch, strict=True))
            params = []
            for name, kind in _COLUMNS:
                if name == "statement_id":
                    params.append(_array_literal(statements[start : start + BATCH]))
                    continue
                values = list(columns[ROW_FIELDS.index(name)])
                params.append(_array_literal(values, text=kind in ("text", "date")))
            cursor.execute(sql, params)
            new += int(cursor.fetchone()[0])
    return new


def post_rows(rows: Sequence[tuple]) -> int:
    """`post_entries` for plain rows (values in ROW_FIELDS order): the month-end path, which
    does not build a model instance per entry. Returns how many were new."""
    if not rows:
        return 0
    # One entry per source key within a call (ON CONFLICT cannot affect a row twice).
    unique: dict[str, tuple] = {}
    for row in rows:
        unique.setdefault(row[_KEY_AT], row)
    with transaction.atomic():
        # Facts already posted (a re-run) need no statement work at all; ON CONFLICT below still
        # settles a key posted concurrently after this look.
        posted = _posted_keys(list(unique))
        batch = [row for key, row in unique.items() if key not in posted]
        if not batch:
            return 0
        drafts = _draft_statements({(r[_PARTNER_AT], r[_CURRENCY_AT], r[_MONTH_AT]) for r in batch})
        statements = [drafts[(r[_PARTNER_AT], r[_CURRENCY_AT], r[_MONTH_AT])] for r in batch]
        return _insert(batch, statements)


def _posted_keys(keys: list[str]) -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT source_key FROM {LedgerEntry._meta.db_table} "
            "WHERE source_key = ANY(%s::text[])",
            [_array_literal(keys, text=True)],
        )
        return {key for (key,) in cursor}


def post_entries(entries: Sequence[LedgerEntry]) -> int:
    """Post `entries` (unsaved, `statement` unset); returns how many were new. Each entry gets
    the statement it was put on (`statement_id`)."""
    if not entries:
        return 0
    with transaction.atomic():
        drafts = _draft_statements({(e.partner_id, e.currency, e.month) for e in entries})
        for entry in entries:
            entry.statement_id = drafts[(entry.partner_id, entry.currency, entry.month)]
        return post_rows([tuple(getattr(e, name) for name in ROW_FIELDS) for e in entries])


def _kinds(figure: str) -> str:
    return ", ".join(f"'{kind}'" for kind in _FIGURES[figure])


def statements_refresh(statement_ids: Iterable[int]) -> None:
    """Recompute the figures of these statements that are drafts (approved ones are frozen), in
    one statement: sums of their entries by kind; the opening balance = what the latest earlier
    non-draft statement of the partner and currency carried forward; held = the open disputes of
    this statement and of earlier ones (their amounts were carried forward); carried forward =
    opening + accrued + bonuses + clawbacks + adjustments; payable = max(carried − held, 0)."""
    ids = sorted(set(statement_ids))
    if not ids:
        return
    statement = Statement._meta.db_table
    entry = LedgerEntry._meta.db_table
    dispute = "incentives_statementdispute"
    sums = ",\n".join(
        f"COALESCE(sum(amount) FILTER (WHERE kind IN ({_kinds(figure)})), 0) AS {figure}"
        for figure in _FIGURES
    )
    sql = f"""
    WITH target AS (
        SELECT id, partner_id, currency, month FROM {statement}
        WHERE id = ANY(%s) AND status = 'draft'
    ), sums AS (
        SELECT statement_id, {sums}
        FROM {entry} WHERE statement_id IN (SELECT id FROM target) GROUP BY statement_id
    ), figures AS (
        SELECT t.id,
            COALESCE(x.accrued, 0) AS accrued, COALESCE(x.bonuses, 0) AS bonuses,
            COALESCE(x.clawbacks, 0) AS clawbacks, COALESCE(x.adjustments, 0) AS adjustments,
            COALESCE((
                SELECT p.carried_forward FROM {statement} p
                WHERE p.partner_id = t.partner_id AND p.currency = t.currency
                  AND p.month < t.month AND p.status <> 'draft'
                ORDER BY p.month DESC LIMIT 1
            ), 0) AS opening,
            COALESCE((
                SELECT sum(d.held_amount) FROM {dispute} d
                JOIN {statement} s2 ON s2.id = d.statement_id
                WHERE d.status = 'open' AND s2.partner_id = t.partner_id
                  AND s2.currency = t.currency AND s2.month <= t.month
            ), 0) AS held
        FROM target t LEFT JOIN sums x ON x.statement_id = t.id
    )
    UPDATE {statement} s SET
        accrued = f.accrued, bonuses = f.bonuses, clawbacks = f.clawbacks,
        adjustments = f.adjustments, opening_balance = f.opening, held = f.held,
        carried_forward = f.opening + f.accrued + f.bonuses + f.clawbacks + f.adjustments,
        payable = GREATEST(
            f.opening + f.accrued + f.bonuses + f.clawbacks + f.adjustments - f.held, 0
        ),
        updated_at = now()
    FROM figures f WHERE s.id = f.id
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, [ids])


def statement_refresh(statement: Statement) -> Statement:
    """Recompute a draft statement's figures from its entries (approved ones are frozen); the
    instance is updated in place and returned."""
    if statement.status != StatementStatus.DRAFT:
        return statement
    statements_refresh([statement.pk])
    fresh = Statement.objects.get(pk=statement.pk)
    for name in (*_FIGURES, "held", "opening_balance", "payable", "carried_forward", "updated_at"):
        setattr(statement, name, getattr(fresh, name))
    return statement
