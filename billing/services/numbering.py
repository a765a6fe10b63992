"""Gapless document numbers per tenant (invoices, credit notes).

Numbers come from a counter row locked for the rest of the issuing transaction: two finalizes or
credit notes at once queue on the lock, and a rollback gives the numbers back, so the issued
numbers never skip one.
"""

from __future__ import annotations

from django.db import connection, transaction

from billing.models import DocumentSequence

PREFIXES = {"invoice": "INV-", "credit_note": "CN-"}


def format_number(name: str, value: int) -> str:
    return f"{PREFIXES[name]}{value:06d}"


def reserve_numbers(name: str, count: int) -> list[str]:
    """`count` consecutive numbers of sequence `name`; call inside the issuing transaction."""
    if name not in PREFIXES:
        raise ValueError(f"Unknown document sequence {name!r}.")
    if count < 0:
        raise ValueError("Cannot reserve a negative count of numbers.")
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("Numbers must be reserved inside the transaction that issues them.")
    table = DocumentSequence._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (name, last) VALUES (%s, 0) ON CONFLICT (name) DO NOTHING",
            [name],
        )
        cursor.execute(
            f"UPDATE {table} SET last = last + %s WHERE name = %s RETURNING last", [count, name]
        )
        last = cursor.fetchone()[0]
    return [format_number(name, value) for value in range(last - count + 1, last + 1)]
