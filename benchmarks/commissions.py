"""Benchmark: commission and bonus accrual of a finalized month against a SQL GROUP BY.

    python -m benchmarks.commissions [--partners 2000] [--clients 100000] [--runs 3]
                                     [--new-client-months 3] [--profile]

Quick check: `--partners 100 --clients 5000` (seconds).

Data (one vendor, Europe/Berlin, last calendar month M), written with COPY — no usage is rated:
`--partners` partners on 4 tiers (commission benefits 5/8/10/12 %, wholesale discounts 0/5/10/15
%, the two upper tiers growth-bonus eligible), `--clients` clients spread evenly over them, the
rating benchmark's catalog (plans "backup": seats, storage, devices and "rmm": seats, storage, API
calls) with three products (Backup ← the backup plan, RMM ← the rmm plan, Storage ← the storage
meter; a line's product is its meter's, else its plan's: devices lines are Backup's, API calls
RMM's). The finalized month: one invoice per partner (numbered, open) with a line per (client,
charge of its plan) — 3 lines per client — plus a prior-period adjustment line for every 25th
client; figures computed with core.money exactly as rating does (the invoice invariants hold at
commit). Finalize's pass then records the per-product totals and M's PartnerMrr (untimed in the
ratio; printed once, next to the MRR-only GROUP BY it replaced); PartnerMrr for the three months
before is 85–100 % of M, so most eligible partners grow.

Plan: billed basis, a rate per tier, an override for Storage, accelerators at 2,000 / 5,000 MRR;
growth rule: bands 5 % → 2 %, 15 % → 4 %, 30 % → 6 %; new-client bonus 50.00 EUR after
`--new-client-months` months.

Baseline: `SELECT invoice.partner_id, product, sum(net_amount) FROM lines JOIN invoice JOIN
charge → version → plan LEFT JOIN meter WHERE invoice.period = M GROUP BY 1, 2`, every row
fetched into Python.

Ours: `incentives.services.accrual.period_accrue(period_id=…)` in this process — what the
`incentives.tasks.accrue_period` task runs: plan lookup, the invoices locked, finalize's
per-product totals read, rates/accelerators and rounding in Python (core.money), the growth
bonuses (PartnerMrr + churned clients) and the new-client scan, the keys already posted looked
up, the missing statements created with their opening figures, one INSERT … FROM unnest … ON
CONFLICT (per 20,000 entries) that also moves the statements' figures, one audit row; committed
(the deferred foreign-key check runs then). Before each
run the ledger and statements are emptied (TRUNCATE), so every run posts every entry. A
re-run (everything already posted: nothing new) is timed too. Runs interleave baseline and ours;
medians are compared. Target: ours ≤ 1.5 × baseline.
"""

from __future__ import annotations

import argparse
import cProfile
import datetime
import io
import pstats
import statistics
import sys
import time
from decimal import Decimal

from benchmarks._support import bench_database, print_table

TARGET = 1.5
HOST = "bench-commissions.localhost"
TIERS = [  # name, wholesale discount %, commission %, growth eligible
    ("Registered", "0", "5", False),
    ("Silver", "5", "8", False),
    ("Gold", "10", "10", True),
    ("Platinum", "15", "12", True),
]
TAX_RATES = ["0", "7", "19", "20", "21"]

BASELINE_SQL = """
SELECT i.partner_id, COALESCE(m.product_id, pp.product_id), sum(l.net_amount)
FROM billing_invoiceline l
JOIN billing_invoice i ON i.id = l.invoice_id
JOIN billing_charge c ON c.id = l.charge_id
JOIN billing_priceplanversion v ON v.id = c.version_id
JOIN billing_priceplan pp ON pp.id = v.plan_id
LEFT JOIN billing_meter m ON m.id = c.meter_id
WHERE i.period_id = %s
GROUP BY 1, 2
"""


# What finalize ran before it recorded product totals: MRR alone, grouped over the month's lines.
MRR_ONLY_SQL = """
SELECT i.partner_id, i.currency, sum(l.net_amount)
FROM billing_invoiceline l JOIN billing_invoice i ON i.id = l.invoice_id
WHERE i.period_id = %s AND l.adjustment_of IS NULL
GROUP BY 1, 2
"""


def _previous_month(today: datetime.date) -> datetime.date:
    return (today.replace(day=1) - datetime.timedelta(days=1)).replace(day=1)


def _months_back(month: datetime.date, count: int) -> datetime.date:
    index = month.year * 12 + month.month - 1 - count
    return datetime.date(index // 12, index % 12 + 1, 1)


class World:
    partners = 0
    clients = 0
    invoices = 0
    lines = 0
    period_id = 0
    schema = ""
    finalize_pass_s = 0.0
    mrr_only_s = 0.0


def _fill(world: World, month: datetime.date, partners: int, clients: int, months: int) -> None:
    from django.db import connection, transaction

    from benchmarks.rating import _catalog
    from billing.closing.totals import partner_mrr_record, product_totals_record
    from billing.models import (
        BillingPeriod,
        Charge,
        Meter,
        PartnerMrr,
        PricePlan,
        Product,
    )
    from billing.models_invoicing import PeriodStatus
    from core.actors import Actor
    from core.money import invoice_totals, line_totals
    from incentives.services.plans import commission_plan_create, growth_bonus_rule_create
    from partners.enums import PartnerStatus
    from partners.models import Partner, Program, Tier, Track

    schema = world.schema
    per_partner = clients // partners
    if per_partner < 1 or clients % partners:
        raise SystemExit("--clients must be a multiple of --partners")
    actor = Actor.system("bench")
    program = Program.objects.create(name="Bench Program")
    track = Track.objects.create(program=program, name="Managed", slug="managed")
    tiers = [
        Tier.objects.create(
            track=track,
            name=name,
            rank=rank,
            wholesale_discount_pct=Decimal(discount),
            commission_rate_pct=Decimal(rate),
            growth_bonus_eligible=eligible,
        )
        for rank, (name, discount, rate, eligible) in enumerate(TIERS, start=1)
    ]
    rows = Partner.objects.bulk_create(
        (
            Partner(
                name=f"Bench MSP {n:05d}",
                external_id=f"BM-{n:05d}",
                status=PartnerStatus.ACTIVE,
                status_since=datetime.date(2024, 1, 1),
                track=track,
                tier=tiers[n % len(tiers)],
                currency="EUR",
                country="DE",
                billing_email=f"billing@msp{n:05d}.example",
                tax_rate=Decimal(TAX_RATES[n % len(TAX_RATES)]),
            )
            for n in range(partners)
        ),
        batch_size=1000,
    )
    _, (backup, rmm) = _catalog(month)
    products = {
        code: Product.objects.create(code=code, name=code.title())
        for code in ("backup", "rmm", "storage")
    }
    PricePlan.objects.filter(pk=backup.pk).update(product=products["backup"])
    PricePlan.objects.filter(pk=rmm.pk).update(product=products["rmm"])
    Meter.objects.filter(code="storage").update(product=products["storage"])
    charges = {
        plan.pk: list(
            Charge.objects.filter(version__plan=plan).select_related("meter").order_by("position")
        )
        for plan in (backup, rmm)
    }
    # Plans first: a plan cannot start in a month that is already finalized.
    gold, platinum = tiers[2], tiers[3]
    commission_plan_create(
        name="Bench plan",
        basis="billed",
        effective_from=_months_back(month, 12),
        tier_rates={gold.pk: Decimal("11"), platinum.pk: Decimal("13.5")},
        product_rates={products["storage"].pk: Decimal("15")},
        accelerators=[(Decimal("2000"), Decimal("1.1")), (Decimal("5000"), Decimal("1.25"))],
        actor=actor,
    )
    growth_bonus_rule_create(
        name="Bench growth",
        effective_from=_months_back(month, 12),
        currency="EUR",
        new_client_months=months,
        new_client_bonus=Decimal("50.00"),
        bands=[
            (Decimal("5"), Decimal("2")),
            (Decimal("15"), Decimal("4")),
            (Decimal("30"), Decimal("6")),
        ],
        actor=actor,
    )
    starts = datetime.datetime.combine(month, datetime.time(), tzinfo=datetime.UTC)
    period = BillingPeriod.objects.create(
        month=month,
        status=PeriodStatus.FINALIZED,
        starts_at=starts,
        ends_at=starts + datetime.timedelta(days=31),
        finalized_at=starts + datetime.timedelta(days=32),
        finalized_by_label="bench",
    )
    world.period_id = period.pk
    now = datetime.datetime.now(datetime.UTC)
    started = month - datetime.timedelta(days=120)
    adjustment_month = _months_back(month, 1)
    with transaction.atomic(), connection.cursor() as cursor:
        raw = cursor.cursor
        with raw.copy(
            f'COPY "{schema}".partners_client (partner_id, name, external_id, status, '
            "service_tier, started_on, created_at, updated_at) FROM STDIN"
        ) as copy:
            for p, partner in enumerate(rows):
                for i in range(per_partner):
                    copy.write_row(
                        (
                            partner.pk,
                            f"Client {p}-{i}",
                            f"C{p}-{i}",
                            "active",
                            "",
                            started,
                            now,
                            now,
                        )
                    )
        cursor.execute(f'SELECT id, partner_id FROM "{schema}".partners_client ORDER BY id')
        by_partner: dict[int, list[int]] = {}
        for client_id, partner_id in cursor.fetchall():
            by_partner.setdefault(partner_id, []).append(client_id)
        # Invoices (drafts first: lines of a finalized invoice cannot be written), then lines.
        invoice_rows = []
        line_rows = []
        mrr = {}
        for p, partner in enumerate(rows):
            discount_pct = Decimal(TIERS[p % len(TIERS)][1])
            lines = []
            for k, client_id in enumerate(by_partner[partner.pk]):
                plan = backup if k % 2 == 0 else rmm
                for position, charge in enumerate(charges[plan.pk]):
                    cents = 500 + (client_id * 7919 + position * 104729) % 20000
                    lines.append((client_id, charge, Decimal(cents).scaleb(-2), None))
                if k % 25 == 24:
                    charge = charges[plan.pk][1]
                    lines.append((client_id, charge, Decimal("-3.10"), adjustment_month))
            figures = [
                (c, ch, amount, line_totals(amount, discount_pct, "EUR"), adj)
                for c, ch, amount, adj in lines
            ]
            totals = invoice_totals(
                ((amount, f.discount) for _, _, amount, f, _ in figures), partner.tax_rate, "EUR"
            )
            invoice_rows.append((partner, totals, discount_pct))
            line_rows.append(figures)
            mrr[partner.pk] = sum((f.net for _, _, _, f, adj in figures if adj is None), Decimal(0))
        with raw.copy(
            f'COPY "{schema}".billing_invoice (period_id, partner_id, currency, status, '
            "subtotal, discount, tax, total, discount_pct, tax_rate, tier_name, bill_to_name, "
            "bill_to_email, bill_to_address, bill_to_country, created_at, updated_at, "
            "payment_reference) FROM STDIN"
        ) as copy:
            for partner, totals, discount_pct in invoice_rows:
                copy.write_row(
                    (
                        period.pk,
                        partner.pk,
                        "EUR",
                        "draft",
                        totals.subtotal,
                        totals.discount,
                        totals.tax,
                        totals.total,
                        discount_pct,
                        partner.tax_rate,
                        "",
                        partner.name,
                        partner.billing_email,
                        "",
                        "DE",
                        now,
                        now,
                        "",
                    )
                )
        cursor.execute(
            f'SELECT partner_id, id FROM "{schema}".billing_invoice WHERE period_id = %s',
            [period.pk],
        )
        invoice_of = dict(cursor.fetchall())
        count = 0
        with raw.copy(
            f'COPY "{schema}".billing_invoiceline (invoice_id, position, client_id, charge_id, '
            "meter_id, seats, price_plan_code, description, quantity, unit_price, amount, "
            "discount, net_amount, pooled, tiers, adjustment_of) FROM STDIN"
        ) as copy:
            for (partner, _, _), figures in zip(invoice_rows, line_rows, strict=True):
                invoice_id = invoice_of[partner.pk]
                for position, (client_id, charge, amount, f, adj) in enumerate(figures, 1):
                    copy.write_row(
                        (
                            invoice_id,
                            position,
                            client_id,
                            charge.pk,
                            charge.meter_id,
                            charge.seats,
                            "bench",
                            "Bench line",
                            Decimal(1),
                            amount,
                            amount,
                            f.discount,
                            f.net,
                            False,
                            "[]",
                            adj,
                        )
                    )
                    count += 1
        cursor.execute(
            f'UPDATE "{schema}".billing_invoice SET status = %s, number = %s || id, '
            "issued_on = %s, finalized_at = %s WHERE period_id = %s",
            ["open", "INV-B", month + datetime.timedelta(days=32), now, period.pk],
        )
        # What finalize does after numbering: one pass over the month's lines writes the
        # per-product totals (which the accrual reads) and MRR from them. Timed for the report,
        # next to the MRR-only GROUP BY that finalize ran before there were product totals.
        # The MRR-only query first: whichever reads the fresh lines first pays for their hint bits.
        started = time.perf_counter()
        cursor.execute(MRR_ONLY_SQL, [period.pk])
        cursor.fetchall()
        world.mrr_only_s = time.perf_counter() - started
        started = time.perf_counter()
        product_totals_record(period=period)
        partner_mrr_record(period)
        world.finalize_pass_s = time.perf_counter() - started
        recorded = dict(PartnerMrr.objects.filter(month=month).values_list("partner_id", "amount"))
        if recorded != mrr:
            raise RuntimeError("finalize recorded an MRR that differs from the lines'")
        PartnerMrr.objects.bulk_create(
            [
                PartnerMrr(
                    partner_id=pid,
                    month=_months_back(month, back),
                    currency="EUR",
                    amount=(amount * Decimal(85 + (pid + back) % 16) / 100).quantize(
                        Decimal("0.01")
                    ),
                )
                for pid, amount in mrr.items()
                for back in (1, 2, 3)
            ],
            batch_size=5000,
        )
    world.partners, world.clients = partners, clients
    world.invoices, world.lines = len(invoice_rows), count
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")


def baseline(world: World) -> tuple[float, int]:
    from django.db import connection

    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(BASELINE_SQL, [world.period_id])
        rows = cursor.fetchall()
    return time.perf_counter() - started, len(rows)


def reset_ledger() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        # The ledger is append-only (nothing deletes entries, so `reverses` has no index of its
        # own): empty it the fast way; CASCADE reaches only the (empty) disputes and payouts.
        cursor.execute("TRUNCATE incentives_ledgerentry, incentives_statement CASCADE")
        cursor.execute("ANALYZE incentives_ledgerentry")
        cursor.execute("ANALYZE incentives_statement")


def accrue(world: World) -> tuple[float, int]:
    from incentives.services.accrual import period_accrue

    started = time.perf_counter()
    new = period_accrue(period_id=world.period_id)
    return time.perf_counter() - started, new


def _time_queries(world: World) -> None:
    """One accrual with each statement's wall time (where the database's share goes)."""
    from django.db import connection

    reset_ledger()
    timings: list[tuple[float, str]] = []

    def timer(execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            timings.append((time.perf_counter() - started, " ".join(sql.split())[:110]))

    from django.db import transaction

    started = time.perf_counter()
    with transaction.atomic():
        with connection.execute_wrapper(timer):
            accrue(world)
        committing = time.perf_counter()
    commit = time.perf_counter() - committing
    total = time.perf_counter() - started
    print(
        f"\none accrual: {total:.3f} s, of which SQL {sum(t for t, _ in timings):.3f} s and the "
        f"commit (deferred foreign-key checks) {commit:.3f} s"
    )
    for seconds, sql in sorted(timings, reverse=True)[:12]:
        print(f"  {seconds * 1000:8.1f} ms  {sql}")


def ledger_digest() -> tuple:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT kind, count(*), sum(amount) FROM incentives_ledgerentry GROUP BY 1 ORDER BY 1"
        )
        return tuple(cursor.fetchall())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--partners", type=int, default=2_000)
    parser.add_argument("--clients", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--new-client-months", type=int, default=3)
    parser.add_argument("--profile", action="store_true", help="cProfile one accrual")
    parser.add_argument(
        "--queries", action="store_true", help="time each SQL statement of one accrual"
    )
    args = parser.parse_args()

    with bench_database() as database:
        from django_tenants.utils import schema_context

        from core.actors import Actor
        from tenancy.services import vendor_create

        vendor = vendor_create(
            name="Bench Commissions",
            slug="bench-commissions",
            domain=HOST,
            timezone="Europe/Berlin",
            currency="EUR",
            actor=Actor.system("bench"),
        )
        world = World()
        world.schema = vendor.schema_name
        with schema_context(vendor.schema_name):
            from billing.closing.rate import vendor_today

            month = _previous_month(vendor_today())
            started = time.perf_counter()
            _fill(world, month, args.partners, args.clients, args.new_client_months)
            print(f"  data ready in {time.perf_counter() - started:.1f} s", file=sys.stderr)
            baseline(world)  # warm up both sides once (caches, plans)
            accrue(world)
            reference = ledger_digest()
            base_s, ours_s, again_s = [], [], []
            groups = posted = 0
            for run in range(args.runs):
                reset_ledger()
                seconds, groups = baseline(world)
                base_s.append(seconds)
                seconds, posted = accrue(world)
                ours_s.append(seconds)
                if ledger_digest() != reference:
                    raise RuntimeError("the accrual posted different entries")
                seconds, again = accrue(world)
                if again:
                    raise RuntimeError(f"a re-run posted {again} entries")
                again_s.append(seconds)
                print(
                    f"  run {run + 1}: baseline {base_s[-1]:.3f} s, accrual {ours_s[-1]:.3f} s, "
                    f"re-run {again_s[-1]:.3f} s",
                    file=sys.stderr,
                )
            if args.queries:
                _time_queries(world)
            if args.profile:
                reset_ledger()
                profiler = cProfile.Profile()
                profiler.enable()
                accrue(world)
                profiler.disable()
                out = io.StringIO()
                pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(20)
                print(out.getvalue())

    base, ours, again = (statistics.median(s) for s in (base_s, ours_s, again_s))
    kinds = ", ".join(f"{count:,} {kind}" for kind, count, _ in reference)
    print(
        f"\ncommissions — {world.partners:,} partners, {world.clients:,} clients, "
        f"{world.invoices:,} invoices, {world.lines:,} lines; {groups:,} (partner, product) "
        f"groups; posted {posted:,} entries ({kinds}); new-client months "
        f"{args.new_client_months}; {args.runs} run(s); database {database}"
    )
    ratio = ours / base
    print_table(
        ["", "seconds", "÷ baseline"],
        [
            ["baseline GROUP BY", f"{base:7.3f}", ""],
            ["accrue_period", f"{ours:7.3f}", f"{ratio:5.2f}×"],
            ["re-run (nothing new)", f"{again:7.3f}", f"{again / base:5.2f}×"],
            ["finalize: totals + MRR", f"{world.finalize_pass_s:7.3f}", "(once, not in ratio)"],
            ["  before: MRR GROUP BY", f"{world.mrr_only_s:7.3f}", "(once, not in ratio)"],
        ],
    )
    verdict = "PASS" if ratio <= TARGET else "FAIL"
    print(f"accrual / baseline = {ratio:.2f}×  (target ≤ {TARGET}×)  {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
