"""Writing a chunk's draft invoices: replace, never accumulate.

Within the caller's transaction: upsert one invoice row per (partner, currency) — the same row on
every re-rating, so links to a draft keep working — drop the old lines of those invoices, COPY the
new ones, and delete the chunk partners' draft invoices that this rating no longer produces. The
result depends only on the drafts, so a chunk written twice leaves the rows of one write.
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
    RETURNING id, partner_id, currency
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
    lines_written = 0
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
            ids = {(partner, currency): pk for pk, partner, currency in cursor.fetchall()}
            kept = list(ids.values())
        # Old lines of every draft invoice of these partners in the period, then the invoices
        # this rating no longer produces (a partner whose clients all left, a currency dropped).
        cursor.execute(
            f"DELETE FROM {_LINE} WHERE invoice_id IN (SELECT id FROM {_INVOICE} "
            "WHERE period_id = %s AND partner_id = ANY(%s) AND number IS NULL)",
            [period_id, partner_ids],
        )
        cursor.execute(
            f"DELETE FROM {_INVOICE} WHERE period_id = %s AND partner_id = ANY(%s) "
            "AND number IS NULL AND NOT (id = ANY(%s))",
            [period_id, partner_ids, kept],
        )
        if drafts:
            raw = cursor.cursor  # psycopg's own cursor: COPY is the fastest bulk write
            with raw.copy(f"COPY {_LINE} ({', '.join(_LINE_COLUMNS)}) FROM STDIN") as copy:
                for draft in drafts:
                    invoice_id = ids[(draft.partner_id, draft.currency)]
                    for position, line in enumerate(draft.lines, start=1):
                        copy.write_row(
                            (
                                invoice_id,
                                position,
                                line.client_id,
                                line.charge_id,
                                line.meter_id,
                                line.seats,
                                line.price_plan_code,
                                line.description,
                                stored_quantity(line.quantity),
                                line.unit_price,
                                line.amount,
                                line.discount,
                                line.net_amount,
                                line.pooled,
                                orjson.dumps(line.tiers).decode(),
                                line.adjustment_of,
                            )
                        )
                        lines_written += 1
    return len(kept), lines_written
