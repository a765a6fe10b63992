"""Benchmark: creating a vendor (our `vendor_create`, which clones the template schema) against the
cheapest honest way to make the same tables — raw DDL in one transaction.

    python -m benchmarks.vendor_create [--runs 10]

Baseline, per run: read the template's tables and foreign keys from the catalog, then in one
transaction `CREATE SCHEMA`, `CREATE TABLE new.t (LIKE tenant_template.t INCLUDING ALL)` for every
table, and `ALTER TABLE … ADD CONSTRAINT … FOREIGN KEY` for every foreign key. Measured: the whole
`vendor_create` service call, end to end (validation, rows, clone, audit, commit). The two are
interleaved, each run followed by an untimed clean-up, so the catalog does not grow as it goes.

Target: median(vendor_create) / median(raw DDL) ≤ 3×. For reference the table also times
django-tenants' plpgsql `clone_schema()` (which `tenancy.schema_clone` replaced: ~2× slower and
it loses the template's constraint names) and the baseline plus a copy of the template's rows.
"""

from __future__ import annotations

import argparse
import re
import time
from collections.abc import Callable

from benchmarks._support import bench_database, median_ms, print_table, verdict

TARGET = 3.0
TEMPLATE = "tenant_template"


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def template_catalog(cursor) -> tuple[list[str], list[tuple[str, str, str]]]:
    """The template's tables, and its foreign keys as (table, name, definition) with the
    referenced tables unqualified (so they resolve in the new schema)."""
    cursor.execute(
        "SELECT tablename FROM pg_tables WHERE schemaname = %s ORDER BY tablename", [TEMPLATE]
    )
    tables = [row[0] for row in cursor.fetchall()]
    cursor.execute(f"SET LOCAL search_path = {_q(TEMPLATE)}")
    cursor.execute(
        """
        SELECT c.relname, con.conname, pg_get_constraintdef(con.oid)
        FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid
        WHERE con.contype = 'f' AND con.connamespace = %s::regnamespace
        ORDER BY c.relname, con.conname
        """,
        [TEMPLATE],
    )
    fks = list(cursor.fetchall())
    return tables, fks


def ddl_tables(cursor, schema: str, tables: list[str], fks: list[tuple[str, str, str]]) -> None:
    cursor.execute(f"CREATE SCHEMA {_q(schema)}")
    for table in tables:
        cursor.execute(
            f"CREATE TABLE {_q(schema)}.{_q(table)} (LIKE {_q(TEMPLATE)}.{_q(table)} INCLUDING ALL)"
        )
    cursor.execute(f"SET LOCAL search_path = {_q(schema)}")
    for table, name, definition in fks:
        target = f"{_q(schema)}.{_q(table)}"
        cursor.execute(f"ALTER TABLE {target} ADD CONSTRAINT {_q(name)} {definition}")


def raw_ddl(schema: str) -> None:
    """The baseline: same tables, indexes, constraints, identity sequences and foreign keys."""
    from django.db import connection, transaction

    with transaction.atomic(), connection.cursor() as cursor:
        tables, fks = template_catalog(cursor)
        ddl_tables(cursor, schema, tables, fks)


_INDEX_NAME = re.compile(r"INDEX \S+ ON \S+")


def _indexes(cursor, schema: str) -> list[tuple[str, str]]:
    """(name, definition with the index's own name and schema left out) for a schema's indexes."""
    cursor.execute(
        """
        SELECT i.relname, t.relname, pg_get_indexdef(i.oid)
        FROM pg_index x
        JOIN pg_class i ON i.oid = x.indexrelid
        JOIN pg_class t ON t.oid = x.indrelid
        WHERE t.relnamespace = %s::regnamespace
        """,
        [schema],
    )
    return [
        (name, _INDEX_NAME.sub(f"INDEX ON {table}", definition))
        for name, table, definition in cursor.fetchall()
    ]


def ddl_plus_rows(schema: str) -> None:
    """A candidate faster clone: the baseline's DDL; the template's index names restored (LIKE
    generates its own, and migrations drop indexes and constraints by name); the template's rows
    (migration records, content types, permissions); identity sequences moved past those rows."""
    from django.db import connection, transaction

    with transaction.atomic(), connection.cursor() as cursor:
        tables, fks = template_catalog(cursor)
        ddl_tables(cursor, schema, tables, fks)
        wanted = {definition: name for name, definition in _indexes(cursor, TEMPLATE)}
        renames = [
            (name, wanted[definition])
            for name, definition in _indexes(cursor, schema)
            if wanted.get(definition, name) != name
        ]
        # Two steps, so that no rename collides with a generated name still in use.
        for step, (current, _final) in enumerate(renames):
            cursor.execute(f"ALTER INDEX {_q(schema)}.{_q(current)} RENAME TO {_q(f'_tmp{step}')}")
        for step, (_current, final) in enumerate(renames):
            cursor.execute(f"ALTER INDEX {_q(schema)}.{_q(f'_tmp{step}')} RENAME TO {_q(final)}")
        # A generated column cannot be written: the rows are copied without them.
        cursor.execute(
            """
            SELECT c.relname, string_agg(quote_ident(a.attname), ', ' ORDER BY a.attnum)
            FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
            WHERE c.relnamespace = %s::regnamespace AND c.relkind IN ('r', 'p')
              AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''
            GROUP BY c.relname
            """,
            [TEMPLATE],
        )
        columns = dict(cursor.fetchall())
        for table in tables:
            cursor.execute(
                f"INSERT INTO {_q(schema)}.{_q(table)} ({columns[table]}) "
                f"OVERRIDING SYSTEM VALUE SELECT {columns[table]} FROM {_q(TEMPLATE)}.{_q(table)}"
            )
        cursor.execute(
            """
            SELECT c.relname, a.attname FROM pg_attribute a
            JOIN pg_class c ON c.oid = a.attrelid
            WHERE c.relnamespace = %s::regnamespace AND a.attidentity <> '' AND c.relkind = 'r'
            """,
            [schema],
        )
        for table, column in cursor.fetchall():
            target = f"{_q(schema)}.{_q(table)}"
            cursor.execute(
                "SELECT setval(pg_get_serial_sequence(%s, %s), "
                f"coalesce((SELECT max({_q(column)}) FROM {target}), 0) + 1, false)",
                [target, column],
            )


def schema_shape(schema: str) -> list:
    """Tables, indexes, foreign keys, other constraints, whether the index and constraint names
    are the template's, and rows copied — to show what each way really builds."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_tables WHERE schemaname = %s", [schema])
        tables = cursor.fetchone()[0]
        indexes = _indexes(cursor, schema)
        template_indexes = _indexes(cursor, TEMPLATE)
        cursor.execute(
            "SELECT count(*) FILTER (WHERE contype = 'f'), count(*) FILTER (WHERE contype <> 'f') "
            "FROM pg_constraint WHERE connamespace = %s::regnamespace",
            [schema],
        )
        fks, others = cursor.fetchone()
        cursor.execute(
            "SELECT array_agg(conname ORDER BY conname) FROM pg_constraint "
            "WHERE connamespace = %s::regnamespace",
            [schema],
        )
        constraint_names = cursor.fetchone()[0]
        cursor.execute(
            "SELECT array_agg(conname ORDER BY conname) FROM pg_constraint "
            "WHERE connamespace = %s::regnamespace",
            [TEMPLATE],
        )
        template_constraint_names = cursor.fetchone()[0]
        cursor.execute(
            f"SELECT count(*) FROM {_q(schema)}.django_migrations"
            if "django_migrations" in _tables(cursor, schema)
            else "SELECT 0"
        )
        migrations = cursor.fetchone()[0]
    same_names = sorted(indexes) == sorted(template_indexes) and (
        constraint_names == template_constraint_names
    )
    return [tables, len(indexes), fks, others, "yes" if same_names else "no", migrations]


def _tables(cursor, schema: str) -> set[str]:
    cursor.execute("SELECT tablename FROM pg_tables WHERE schemaname = %s", [schema])
    return {row[0] for row in cursor.fetchall()}


def drop_schema(schema: str) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"DROP SCHEMA IF EXISTS {_q(schema)} CASCADE")


def drop_vendor(slug: str) -> None:
    from tenancy.models import Vendor

    vendor = Vendor.objects.get(slug=slug)
    drop_schema(vendor.schema_name)
    Vendor.objects.filter(pk=vendor.pk).delete()


def timed(fn: Callable[[], object]) -> int:
    started = time.perf_counter_ns()
    fn()
    return time.perf_counter_ns() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()

    with bench_database() as database:
        from django.db import connection
        from django_tenants.clone import CloneSchema

        from core.actors import Actor
        from tenancy import services

        actor = Actor.system("benchmark")

        def create(i: int, kind: str) -> None:
            services.vendor_create(
                name=f"Bench {kind} {i}",
                slug=f"bench-{kind}-{i}",
                domain=f"bench-{kind}-{i}.localhost",
                timezone="Europe/Berlin",
                currency="EUR",
                actor=actor,
            )

        # Warm-up (untimed), and proof that both ways make the same shape of schema.
        create(0, "warm")
        raw_ddl("bench_ddl_warm")
        ddl_plus_rows("bench_rows_warm")
        shapes = {
            "template": schema_shape(TEMPLATE),
            "vendor_create": schema_shape("v_bench_warm_0"),
            "raw DDL": schema_shape("bench_ddl_warm"),
            "DDL + rows": schema_shape("bench_rows_warm"),
        }
        drop_vendor("bench-warm-0")
        drop_schema("bench_ddl_warm")
        drop_schema("bench_rows_warm")

        samples: dict[str, list[int]] = {
            "raw DDL (baseline)": [],
            "vendor_create (clone)": [],
            "reference: django-tenants CREATE FUNCTION clone_schema": [],
            "reference: django-tenants SELECT clone_schema(…)": [],
            "reference: raw DDL + template rows, no renames": [],
        }
        for i in range(1, args.runs + 1):
            samples["raw DDL (baseline)"].append(timed(lambda i=i: raw_ddl(f"bench_ddl_{i}")))
            drop_schema(f"bench_ddl_{i}")
            samples["vendor_create (clone)"].append(timed(lambda i=i: create(i, "clone")))
            drop_vendor(f"bench-clone-{i}")
            samples["reference: django-tenants CREATE FUNCTION clone_schema"].append(
                timed(CloneSchema()._create_clone_schema_function)
            )

            def clone_only(i=i) -> None:
                with connection.cursor() as cursor:
                    cursor.execute(
                        "SELECT clone_schema(%s, %s, 'DATA')", [TEMPLATE, f"bench_fn_{i}"]
                    )

            samples["reference: django-tenants SELECT clone_schema(…)"].append(timed(clone_only))
            drop_schema(f"bench_fn_{i}")
            samples["reference: raw DDL + template rows, no renames"].append(
                timed(lambda i=i: ddl_plus_rows(f"bench_rows_{i}"))
            )
            drop_schema(f"bench_rows_{i}")

    baseline = median_ms(samples["raw DDL (baseline)"])
    print(f"\nvendor_create vs raw DDL — {args.runs} runs each, interleaved; database {database}")
    print_table(
        [
            "schema",
            "tables",
            "indexes",
            "FKs",
            "other constraints",
            "names = template's",
            "rows in django_migrations",
        ],
        [[name, *shape] for name, shape in shapes.items()],
    )
    print()
    rows = []
    for name, values in samples.items():
        med = median_ms(values)
        rows.append(
            [
                name,
                f"{med:8.1f}",
                f"{min(values) / 1e6:8.1f}",
                f"{max(values) / 1e6:8.1f}",
                f"{med / baseline:6.2f}×",
            ]
        )
    print_table(["what", "median ms", "min ms", "max ms", "vs baseline"], rows)
    ratio = median_ms(samples["vendor_create (clone)"]) / baseline
    print(
        f"\nratio vendor_create / raw DDL = {ratio:.2f}×  (target ≤ {TARGET:.0f}×)  "
        f"{verdict(ratio, TARGET)}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
