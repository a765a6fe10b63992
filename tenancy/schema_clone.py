"""Cloning the migrated template schema into a new vendor's schema.

Why not django-tenants' `clone_schema()`: its plpgsql function walks the catalog object by object
(about 120 ms here) and leaves multi-column UNIQUE constraints under PostgreSQL's generated names,
so a later migration that drops such a constraint by name would fail on every cloned vendor.

Here, in the caller's transaction: `CREATE TABLE … (LIKE template.t INCLUDING ALL)` per table
(columns, defaults, identity, NOT NULL, CHECK constraints with their names, indexes) with its
storage parameters (a fillfactor), then the indexes — and with them the PRIMARY KEY / UNIQUE
constraints they back — are renamed to the template's names, the template's rows are copied
(migrations history, content types, permissions), identity sequences moved past them, and the
foreign keys added last.
"""

from __future__ import annotations

import re

from django.db import connection

_INDEX_HEAD = re.compile(r"^CREATE (UNIQUE )?INDEX \S+ ON \S+ ")


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _index_signature(definition: str) -> str:
    """`CREATE UNIQUE INDEX name ON schema.table USING btree (a, b)` → `UNIQUE USING btree (a, b)`:
    what an index is, without its name or where it lives."""
    match = _INDEX_HEAD.match(definition)
    if match is None:
        raise ValueError(f"unexpected index definition: {definition}")
    return (match.group(1) or "") + definition[match.end() :]


def _indexes(cursor, schema: str) -> dict[str, list[tuple[str, str]]]:
    """table → [(signature, index name)], sorted by signature."""
    cursor.execute(
        """
        SELECT t.relname, i.relname, pg_get_indexdef(i.oid)
        FROM pg_index x
        JOIN pg_class i ON i.oid = x.indexrelid
        JOIN pg_class t ON t.oid = x.indrelid
        WHERE t.relnamespace = %s::regnamespace
        """,
        [schema],
    )
    result: dict[str, list[tuple[str, str]]] = {}
    for table, name, definition in cursor.fetchall():
        result.setdefault(table, []).append((_index_signature(definition), name))
    # Ordered by what the index is, so the template's and the clone's line up one to one.
    return {table: sorted(indexes) for table, indexes in result.items()}


def clone_schema(*, source: str, target: str) -> None:
    """Create schema `target` as a copy of `source` (tables, indexes, constraints, rows)."""
    src, dst = _q(source), _q(target)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relname, reloptions FROM pg_class WHERE relnamespace = %s::regnamespace "
            "AND relkind IN ('r', 'p') ORDER BY relname",
            [source],
        )
        table_options = cursor.fetchall()
        tables = [table for table, _ in table_options]
        # Foreign keys, with the referenced table moved from the source to the target schema.
        cursor.execute(
            """
            SELECT c.relname, con.conname,
                   replace(pg_get_constraintdef(con.oid),
                           'REFERENCES ' || quote_ident(%s) || '.',
                           'REFERENCES ' || quote_ident(%s) || '.')
            FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid
            WHERE con.contype = 'f' AND con.connamespace = %s::regnamespace
            ORDER BY c.relname, con.conname
            """,
            [source, target, source],
        )
        foreign_keys = cursor.fetchall()
        cursor.execute(
            """
            SELECT c.relname, a.attname
            FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
            WHERE c.relnamespace = %s::regnamespace AND a.attidentity <> '' AND NOT a.attisdropped
            """,
            [source],
        )
        identity_columns = cursor.fetchall()
        # The columns whose rows are copied: a generated column cannot be written, it is computed.
        cursor.execute(
            """
            SELECT c.relname, string_agg(quote_ident(a.attname), ', ' ORDER BY a.attnum)
            FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
            WHERE c.relnamespace = %s::regnamespace AND c.relkind IN ('r', 'p')
              AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''
            GROUP BY c.relname
            """,
            [source],
        )
        copied_columns = dict(cursor.fetchall())
        source_indexes = _indexes(cursor, source)
        # Functions and triggers, rewritten to live in (and point into) the target schema.
        cursor.execute(
            "SELECT replace(pg_get_functiondef(p.oid), "
            "'FUNCTION ' || quote_ident(%s) || '.', 'FUNCTION ' || quote_ident(%s) || '.') "
            "FROM pg_proc p WHERE p.pronamespace = %s::regnamespace ORDER BY p.proname",
            [source, target, source],
        )
        functions = [row[0] for row in cursor.fetchall()]
        cursor.execute(
            """
            SELECT replace(replace(pg_get_triggerdef(t.oid),
                       ' ON ' || quote_ident(%s) || '.', ' ON ' || quote_ident(%s) || '.'),
                       'FUNCTION ' || quote_ident(%s) || '.', 'FUNCTION ' || quote_ident(%s) || '.')
            FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
            WHERE c.relnamespace = %s::regnamespace AND NOT t.tgisinternal
            ORDER BY c.relname, t.tgname
            """,
            [source, target, source, target, source],
        )
        triggers = [row[0] for row in cursor.fetchall()]

        cursor.execute(f"CREATE SCHEMA {dst}")
        for table, options in table_options:
            cursor.execute(f"CREATE TABLE {dst}.{_q(table)} (LIKE {src}.{_q(table)} INCLUDING ALL)")
            if options:  # storage parameters (a fillfactor), which LIKE does not copy
                cursor.execute(f"ALTER TABLE {dst}.{_q(table)} SET ({', '.join(options)})")

        # Two passes, so that no new name can collide with a generated one still in place.
        renames = []
        for table, created in _indexes(cursor, target).items():
            wanted = source_indexes.get(table, [])
            if [sig for sig, _ in created] != [sig for sig, _ in wanted]:
                raise RuntimeError(f"cloned indexes of {table} differ from the template's")
            renames += [(new, old) for (_, new), (_, old) in zip(created, wanted, strict=True)]
        for number, (new, _old) in enumerate(renames):
            cursor.execute(f"ALTER INDEX {dst}.{_q(new)} RENAME TO {_q(f'clone_tmp_{number}')}")
        for number, (_new, old) in enumerate(renames):
            cursor.execute(f"ALTER INDEX {dst}.{_q(f'clone_tmp_{number}')} RENAME TO {_q(old)}")

        for table in tables:
            columns = copied_columns[table]
            cursor.execute(
                f"INSERT INTO {dst}.{_q(table)} ({columns}) OVERRIDING SYSTEM VALUE "
                f"SELECT {columns} FROM {src}.{_q(table)}"
            )
        for table, column in identity_columns:
            cursor.execute(
                "SELECT setval(pg_get_serial_sequence(%s, %s), "
                f"COALESCE((SELECT max({_q(column)}) FROM {dst}.{_q(table)}), 0) + 1, false)",
                [f"{dst}.{_q(table)}", column],
            )
        for table, name, definition in foreign_keys:
            cursor.execute(f"ALTER TABLE {dst}.{_q(table)} ADD CONSTRAINT {_q(name)} {definition}")
        for definition in functions + triggers:
            cursor.execute(definition)
