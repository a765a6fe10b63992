"""Commission accrual and clawback: ledger entries derived from finalized invoice lines.

When entries are posted
-----------------------
- `billing_period.finalized` → (on commit) the task `incentives.tasks.accrue_period`, which calls
  `period_accrue`: under the commission plan in force for the month (latest `effective_from` ≤
  month), basis **billed**: one entry per (invoice, product group) of every finalized invoice of
  the period, then the month's growth and new-client bonuses; basis **collected**: only invoices
  already paid (the rest accrue when paid). A group's basis is read from the per-product totals
  finalize recorded (`billing.closing.totals`), not by grouping the month's lines again.
- `invoice.paid` (in the payment's transaction): basis collected → the invoice's accruals and
  the partner's bonuses that its payment completes; either basis → commission clawed back when
  the invoice was written off is given back.
- `credit_note.issued` (in the credit note's transaction): clawback of the commission of what it
  credits (`incentives.commission.clawback`).
- `invoice.uncollectible` (in that transaction): clawback of all the invoice's commission still
  standing.

Every path ends in `invoice_reconcile`, which derives the clawbacks of an invoice from the facts
(its accrual entries, its credit notes in order, its status) and posts what is missing, so the
order in which accrual, credit notes, write-off and payment arrive does not change the result,
and only what was actually accrued is ever clawed back.

Exactly once: source keys
-------------------------
Every entry has a deterministic `source_key` (unique in the ledger; `post_entries` inserts with
ON CONFLICT DO NOTHING), so a task run twice, killed and re-run, or an event handled twice posts
each fact once:

    acc:{invoice_id}:p{product_id|0}        commission of an invoice's product group
    cn:{credit_note_id}:p{product_id|0}     what a credit note takes back of that group
    unc:{invoice_id}:p{product_id|0}        write-off: the group's commission still standing
    unc-rev:{invoice_id}:p{product_id|0}    the write-off reversed (the invoice was paid after all)
    growth:{partner_id}:{currency}:{YYYY-MM} the month's growth bonus
    new-client:{client_id}                  a client's new-client bonus (once per client ever)

Amounts are computed deterministically from committed facts, so a re-run computes the same entry
for the same key. An entry's kind follows its sign where a group's amount can be negative (a
group of only negative prior-period adjustment lines): positive → accrual, negative → clawback.

Concurrency: the period's invoices are locked (FOR NO KEY UPDATE) while their accruals are
posted; credit notes and payment state changes lock the invoice too, so a credit note never
computes its clawback from an accrual that is being written at the same moment.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.db import connection, transaction

from billing.models import (
    BillingPeriod,
    CreditNote,
    Invoice,
    InvoiceProductTotal,
    PartnerMrr,
    Product,
)
from billing.models_invoicing import InvoiceStatus
from core.actors import Actor
from core.money import ZERO
from core.services.audit import audit_record

from ..commission import (
    CreditFact,
    GroupCommission,
    PlanRules,
    accelerator_multiplier,
    churn_adjusted_baseline,
    clawback_schedule,
    commission_factor,
    commission_of,
    commission_rate,
    growth_bonus,
    in_force,
    new_client_bonus_due,
)
from ..commission.growth import months_back
from ..models import CommissionBasis, EntryKind, LedgerEntry
from .ledger import ROW_FIELDS, post_entries, post_rows
from .plans import GrowthRuleFacts, growth_rules_facts, plans_rules

__all__ = [
    "invoice_on_credit_note",
    "invoice_on_paid",
    "invoice_on_uncollectible",
    "invoice_reconcile",
    "period_accrue",
]

ACTOR = Actor.system("commission accrual")
# Invoices that were billed (finalized): every status but draft and void.
BILLED_EXCLUDED = (InvoiceStatus.DRAFT, InvoiceStatus.VOID)
PAID = (InvoiceStatus.PAID,)

ProductKey = int | None
GroupKey = tuple[int, ProductKey]  # (invoice id, product id)


def _p(product_id: ProductKey) -> str:
    return f"p{product_id or 0}"


def acc_key(invoice_id: int, product_id: ProductKey) -> str:
    return f"acc:{invoice_id}:{_p(product_id)}"


def _kind_for(amount: Decimal, positive: str = EntryKind.ACCRUAL) -> str:
    return positive if amount > 0 else EntryKind.CLAWBACK


_ROW_INDEX = {name: index for index, name in enumerate(ROW_FIELDS)}
# _accrual_entries builds its rows positionally.
assert ROW_FIELDS == (
    "partner_id",
    "currency",
    "kind",
    "month",
    "amount",
    "basis",
    "rate_pct",
    "multiplier",
    "description",
    "source_key",
    "invoice_id",
    "product_id",
    "client_id",
    "credit_note_id",
    "payout_id",
    "reverses_id",
), ROW_FIELDS


def _row(**fields: object) -> tuple:
    """A ledger row for `post_rows` (month-end volume: no model instance per entry)."""
    values: list[object] = [None] * len(ROW_FIELDS)
    for name, value in fields.items():
        values[_ROW_INDEX[name]] = value
    return tuple(values)


# ---- reads -----------------------------------------------------------------------------------


def charge_products() -> dict[int, ProductKey]:
    """Charge id → the product of its lines: the meter's product, or (seat lines, or a meter
    without one) the price plan's — as the margin report reads it (reporting)."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT c.id, COALESCE(m.product_id, pp.product_id)
            FROM billing_charge c
            JOIN billing_priceplanversion v ON v.id = c.version_id
            JOIN billing_priceplan pp ON pp.id = v.plan_id
            LEFT JOIN billing_meter m ON m.id = c.meter_id
            """
        )
        return dict(cursor.fetchall())


def _group_sums(where: str, params: Sequence[object]) -> dict[GroupKey, Decimal]:
    """(invoice, product) → Σ net of its lines, as finalize recorded them
    (`billing.closing.totals`): a few rows per invoice, not the month's lines again."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT t.invoice_id, t.product_id, t.net_amount "
            f"FROM {InvoiceProductTotal._meta.db_table} t WHERE {where}",
            params,
        )
        return {(invoice_id, product_id): net for invoice_id, product_id, net in cursor}


@dataclass(frozen=True, slots=True)
class PartnerFacts:
    tier_id: int | None
    tier_rate: Decimal | None
    growth_eligible: bool


def _partners(partner_ids: Iterable[int]) -> dict[int, PartnerFacts]:
    ids = sorted(set(partner_ids))
    if not ids:
        return {}
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT p.id, p.tier_id, t.commission_rate_pct, COALESCE(t.growth_bonus_eligible, false)
            FROM partners_partner p LEFT JOIN partners_tier t ON t.id = p.tier_id
            WHERE p.id = ANY(%s)
            """,
            [ids],
        )
        return {row[0]: PartnerFacts(row[1], row[2], row[3]) for row in cursor.fetchall()}


def _mrr(
    months: Sequence[datetime.date], partner_ids: Iterable[int] | None = None
) -> dict[tuple, Decimal]:
    """(partner, currency, month) → MRR of those months as recorded at finalize."""
    where, params = "month = ANY(%s)", [list(months)]
    if partner_ids is not None:
        where += " AND partner_id = ANY(%s)"
        params.append(sorted(set(partner_ids)))
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT partner_id, currency, month, amount FROM {PartnerMrr._meta.db_table} "
            f"WHERE {where}",
            params,
        )
        return {(p, c, m): amount for p, c, m, amount in cursor}


@dataclass(frozen=True, slots=True)
class _Reads:
    """What a period's accrual and its bonuses both read, read once: every partner's MRR of the
    month and the three before, and the partners' tier facts."""

    mrr: dict[tuple, Decimal]
    partners: dict[int, PartnerFacts]

    @classmethod
    def of(cls, month: datetime.date, partner_ids: Iterable[int]) -> _Reads:
        mrr = _mrr([months_back(month, k) for k in (3, 2, 1, 0)])
        return cls(mrr, _partners({*partner_ids, *(p for p, _, _ in mrr)}))


def _product_names() -> dict[int, str]:
    return dict(Product.objects.values_list("id", "name"))


# ---- accruals --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class InvoiceFacts:
    id: int
    partner_id: int
    currency: str
    number: str
    month: datetime.date


def _accrual_entries(
    invoices: Sequence[InvoiceFacts],
    groups: dict[GroupKey, Decimal],
    plan: PlanRules,
    reads: _Reads | None = None,
) -> list[tuple]:
    """The accrual rows of these invoices' groups; `reads` when the caller has read the
    partners' facts and MRR already."""
    if reads is not None:
        partners, mrr = reads.partners, reads.mrr
    else:
        partners = _partners(i.partner_id for i in invoices)
        mrr = _mrr(sorted({i.month for i in invoices}), {i.partner_id for i in invoices})
    names = _product_names()
    by_id = {i.id: i for i in invoices}
    # The accelerator per (partner, currency, month); the rate, factor and wording per (tier,
    # product, accelerator): thousands of partners share a handful of each.
    multipliers: dict[tuple, Decimal] = {}
    terms: dict[tuple, tuple[Decimal, Decimal, str, str]] = {}
    entries = []
    for (invoice_id, product_id), basis in sorted(
        groups.items(), key=lambda item: (item[0][0], item[0][1] or 0)
    ):
        invoice = by_id.get(invoice_id)
        if invoice is None:
            continue
        partner_key = (invoice.partner_id, invoice.currency, invoice.month)
        multiplier = multipliers.get(partner_key)
        if multiplier is None:
            multiplier = multipliers[partner_key] = accelerator_multiplier(
                plan.accelerators, mrr.get(partner_key)
            )
        partner = partners[invoice.partner_id]
        key = (partner.tier_id, partner.tier_rate, product_id, multiplier)
        found = terms.get(key)
        if found is None:
            rate = commission_rate(
                plan,
                tier_id=partner.tier_id,
                tier_default_pct=partner.tier_rate,
                product_id=product_id,
            )
            product = names.get(product_id, "other charges") if product_id else "other charges"
            accelerated = f" × {_plain(multiplier)}" if multiplier != 1 else ""
            found = terms[key] = (
                rate,
                commission_factor(rate, multiplier),
                f"{product}: ",
                f" × {_plain(rate)} %{accelerated}",
            )
        rate, factor, before, after = found
        amount = commission_of(basis, factor, invoice.currency)
        if amount == 0:
            continue
        # Positional, in ROW_FIELDS order (checked at import): no keyword dict per entry.
        entries.append(
            (
                invoice.partner_id,
                invoice.currency,
                _kind_for(amount),
                invoice.month,
                amount,
                basis,
                rate,
                multiplier,
                f"Commission on {invoice.number}, {before}{basis}{after}"[:300],
                acc_key(invoice_id, product_id),
                invoice_id,
                product_id,
                None,
                None,
                None,
                None,
            )
        )
    return entries


def _plain(number: Decimal) -> str:
    """12.5000 → "12.5", 20.0000 → "20" (never "2E+1")."""
    return format(number.normalize(), "f")


def _invoice_facts(queryset) -> list[InvoiceFacts]:
    return [
        InvoiceFacts(pk, partner_id, currency, number or "", month)
        for pk, partner_id, currency, number, month in queryset.values_list(
            "pk", "partner_id", "currency", "number", "period__month"
        )
    ]


def _plan_for(month: datetime.date) -> PlanRules | None:
    return in_force(plans_rules(), month)


def period_accrue(*, period_id: int, actor: Actor = ACTOR) -> int:
    """Accrue a finalized period (see the module docstring); returns the number of new entries.
    Safe to run any number of times."""
    with transaction.atomic():
        period = BillingPeriod.objects.get(pk=period_id)
        if period.finalized_at is None:
            return 0
        month = period.month
        plan = _plan_for(month)
        invoices = (
            Invoice.objects.select_for_update(no_key=True, of=("self",))
            .filter(period_id=period_id)
            .exclude(status__in=BILLED_EXCLUDED)
            .order_by("pk")
        )
        paid_only = plan is not None and plan.basis == CommissionBasis.COLLECTED
        if paid_only:
            invoices = invoices.filter(status__in=PAID)
        facts = _invoice_facts(invoices)
        entries: list[tuple] = []
        reads = None if paid_only else _Reads.of(month, (f.partner_id for f in facts))
        if plan is not None and facts:
            if paid_only:
                groups = _group_sums("t.invoice_id = ANY(%s)", [[f.id for f in facts]])
            else:
                groups = _group_sums(
                    "t.invoice_id IN (SELECT id FROM billing_invoice WHERE period_id = %s "
                    "AND status NOT IN ('draft', 'void'))",
                    [period_id],
                )
            entries = _accrual_entries(facts, groups, plan, reads)
        if reads is not None:
            entries += _bonus_rows(month, partner_ids=None, paid_only=False, reads=reads)
        # Accruals and bonuses in one posting: one insert, one pass over the statements.
        new = post_rows(entries)
        # Invoices whose credit notes or write-off came before this accrual.
        for invoice in Invoice.objects.filter(period_id=period_id).filter(
            pk__in=CreditNote.objects.values("invoice_id")
        ) | Invoice.objects.filter(period_id=period_id, uncollectible_at__isnull=False):
            new += invoice_reconcile(invoice=invoice)
        if new:  # a re-run that found everything posted changes nothing: no audit row
            audit_record(
                actor=actor,
                action="commission.period_accrued",
                instance=period,
                after={
                    "month": f"{month:%Y-%m}",
                    "new_entries": new,
                    "plan": plan and plan.plan_id,
                },
            )
    return new


def _accrue_invoice(invoice: Invoice, plan: PlanRules) -> int:
    facts = _invoice_facts(Invoice.objects.filter(pk=invoice.pk))
    groups = _group_sums("t.invoice_id = %s", [invoice.pk])
    return post_rows(_accrual_entries(facts, groups, plan))


# ---- clawbacks -------------------------------------------------------------------------------


def _invoice_groups(invoice_id: int) -> tuple[dict[ProductKey, Decimal], dict[int, ProductKey]]:
    """The invoice's groups (product → basis) and each line's product."""
    products = charge_products()
    basis: dict[ProductKey, Decimal] = defaultdict(lambda: ZERO)
    line_product: dict[int, ProductKey] = {}
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id, charge_id, net_amount FROM billing_invoiceline WHERE invoice_id = %s",
            [invoice_id],
        )
        for line_id, charge_id, net in cursor.fetchall():
            product = products.get(charge_id)
            basis[product] += net
            line_product[line_id] = product
    return dict(basis), line_product


def _credits(invoice_id: int, line_product: dict[int, ProductKey]) -> list[CreditFact]:
    notes: dict[int, dict] = {}
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT n.id, cl.invoice_line_id, cl.amount
            FROM billing_creditnote n JOIN billing_creditnoteline cl ON cl.credit_note_id = n.id
            WHERE n.invoice_id = %s ORDER BY n.id, cl.id
            """,
            [invoice_id],
        )
        for note_id, line_id, amount in cursor.fetchall():
            note = notes.setdefault(note_id, {"lines": defaultdict(lambda: ZERO), "whole": ZERO})
            if line_id is None:
                note["whole"] += amount
            else:
                note["lines"][line_product.get(line_id)] += amount
    return [
        CreditFact(key=note_id, line_credits=dict(note["lines"]), whole_amount=note["whole"])
        for note_id, note in notes.items()
    ]


def invoice_reconcile(*, invoice: Invoice) -> int:
    """Post the clawbacks the invoice's facts call for and that are not in the ledger yet:
    credit notes (against what was accrued), the write-off of an uncollectible invoice, and its
    reversal once it is paid. Returns the number of new entries."""
    posted = list(
        LedgerEntry.objects.filter(invoice_id=invoice.pk).values(
            "source_key", "amount", "basis", "rate_pct", "multiplier", "product_id", "id"
        )
    )
    accrued = {
        e["product_id"]: e for e in posted if e["source_key"].startswith(f"acc:{invoice.pk}:")
    }
    if not accrued:
        return 0  # nothing was accrued: nothing to take back
    basis, line_product = _invoice_groups(invoice.pk)
    groups = {
        product: GroupCommission(
            basis=total,
            accrued=accrued[product]["amount"] if product in accrued else ZERO,
            rate_pct=accrued[product]["rate_pct"] if product in accrued else ZERO,
            multiplier=(accrued[product]["multiplier"] if product in accrued else None)
            or Decimal(1),
        )
        for product, total in basis.items()
    }
    credits = _credits(invoice.pk, line_product)
    schedule = clawback_schedule(groups, credits, invoice.currency)
    month = Invoice.objects.filter(pk=invoice.pk).values_list("period__month", flat=True).get()
    number = invoice.number or str(invoice.pk)
    entries: list[LedgerEntry] = []
    notes = dict(CreditNote.objects.filter(invoice_id=invoice.pk).values_list("id", "number"))
    standing = {product: groups[product].accrued for product in groups}

    def entry(kind, amount, key, product, description, **extra) -> LedgerEntry:
        return LedgerEntry(
            partner_id=invoice.partner_id,
            currency=invoice.currency,
            kind=kind,
            month=month,
            amount=amount,
            description=description[:300],
            source_key=key,
            invoice_id=invoice.pk,
            product_id=product,
            **extra,
        )

    for credit in credits:
        for product, taken in schedule[credit.key].items():
            standing[product] -= taken
            entries.append(
                entry(
                    EntryKind.CLAWBACK,
                    -taken,
                    f"cn:{credit.key}:{_p(product)}",
                    product,
                    f"Clawback: credit note {notes.get(credit.key, credit.key)} on {number}",
                    credit_note_id=credit.key,
                )
            )
    status = Invoice.objects.filter(pk=invoice.pk).values_list("status", flat=True).get()
    if status == InvoiceStatus.UNCOLLECTIBLE:
        for product, amount in standing.items():
            if amount != 0:
                entries.append(
                    entry(
                        _kind_for(-amount),
                        -amount,
                        f"unc:{invoice.pk}:{_p(product)}",
                        product,
                        f"Clawback: invoice {number} written off as uncollectible",
                    )
                )
    elif status in (InvoiceStatus.PAID, InvoiceStatus.REFUNDED):
        for written_off in posted:
            if written_off["source_key"].startswith(f"unc:{invoice.pk}:"):
                amount = -written_off["amount"]
                entries.append(
                    entry(
                        _kind_for(amount),
                        amount,
                        f"unc-rev:{invoice.pk}:{_p(written_off['product_id'])}",
                        written_off["product_id"],
                        f"Commission restored: invoice {number} was paid after the write-off",
                        reverses_id=written_off["id"],
                    )
                )
    return post_entries(entries)


# ---- event handlers (run in the publisher's transaction, the invoice locked) -------------------


def invoice_on_paid(invoice_id: int) -> int:
    invoice = Invoice.objects.select_related("period").get(pk=invoice_id)
    month = invoice.period.month
    plan = _plan_for(month)
    new = 0
    if plan is not None and plan.basis == CommissionBasis.COLLECTED:
        new += _accrue_invoice(invoice, plan)
    new += invoice_reconcile(invoice=invoice)
    if plan is not None and plan.basis == CommissionBasis.COLLECTED:
        new += _collected_bonuses(invoice)
    return new


def invoice_on_uncollectible(invoice_id: int) -> int:
    return invoice_reconcile(invoice=Invoice.objects.get(pk=invoice_id))


def invoice_on_credit_note(credit_note_id: int) -> int:
    note = CreditNote.objects.select_related("invoice").get(pk=credit_note_id)
    return invoice_reconcile(invoice=note.invoice)


# ---- bonuses ---------------------------------------------------------------------------------


def _billed_status_sql(paid_only: bool) -> str:
    return "i.status = 'paid'" if paid_only else "i.status NOT IN ('draft', 'void')"


def _paid_mrr(months: Sequence[datetime.date], partner_ids: Sequence[int]) -> dict[tuple, Decimal]:
    """(partner, currency, month) → Σ net of non-adjustment lines of paid invoices (the
    recurring part of finalize's product totals)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT i.partner_id, i.currency, p.month, sum(t.recurring)
            FROM {InvoiceProductTotal._meta.db_table} t
            JOIN billing_invoice i ON i.id = t.invoice_id
            JOIN billing_billingperiod p ON p.id = i.period_id
            WHERE p.month = ANY(%s) AND i.partner_id = ANY(%s) AND i.status = 'paid'
              AND t.recurring IS NOT NULL
            GROUP BY 1, 2, 3
            """,
            [list(months), list(partner_ids)],
        )
        return {(r[0], r[1], r[2]): r[3] for r in cursor.fetchall()}


def _churned_mrr(
    month: datetime.date, partner_ids: Sequence[int] | None, paid_only: bool
) -> dict[tuple, Decimal]:
    """(partner, currency, trailing month) → MRR of clients churned before `month`."""
    partner_filter = "AND i.partner_id = ANY(%s)" if partner_ids is not None else ""
    params: list[object] = [month, months_back(month, 3), month]
    if partner_ids is not None:
        params.append(list(partner_ids))
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT i.partner_id, i.currency, p.month, sum(l.net_amount)
            FROM partners_client c
            JOIN billing_invoiceline l ON l.client_id = c.id
            JOIN billing_invoice i ON i.id = l.invoice_id
            JOIN billing_billingperiod p ON p.id = i.period_id
            WHERE c.status = 'churned' AND c.ended_on < %s
              AND p.month >= %s AND p.month < %s AND l.adjustment_of IS NULL
              AND {_billed_status_sql(paid_only)} {partner_filter}
            GROUP BY 1, 2, 3
            """,
            params,
        )
        return {(r[0], r[1], r[2]): r[3] for r in cursor.fetchall()}


def _growth_entries(
    month: datetime.date,
    rule: GrowthRuleFacts,
    partner_ids: Sequence[int] | None,
    paid_only: bool,
    reads: _Reads | None = None,
) -> list[tuple]:
    trailing = [months_back(month, k) for k in (3, 2, 1)]
    if paid_only:
        assert partner_ids is not None
        mrr = _paid_mrr([*trailing, month], partner_ids)
    elif reads is not None and partner_ids is None:
        mrr = reads.mrr
    else:
        mrr = _mrr([*trailing, month], partner_ids)
    current = {(p, c): a for (p, c, m), a in mrr.items() if m == month}
    partners = dict(reads.partners) if reads is not None else {}
    missing = {p for p, _ in current if p not in partners}
    if missing:
        partners.update(_partners(missing))
    eligible = [key for key in current if partners[key[0]].growth_eligible]
    if not eligible:
        return []
    churned = _churned_mrr(month, sorted({p for p, _ in eligible}), paid_only)
    entries = []
    for partner_id, currency in sorted(eligible):
        baseline = churn_adjusted_baseline(
            [mrr.get((partner_id, currency, m)) for m in trailing],
            [churned.get((partner_id, currency, m), ZERO) for m in trailing],
            currency,
        )
        outcome = growth_bonus(current[(partner_id, currency)], baseline, rule.bands, currency)
        if outcome is None or outcome.bonus == 0:
            continue
        entries.append(
            _row(
                partner_id=partner_id,
                currency=currency,
                kind=EntryKind.GROWTH_BONUS,
                month=month,
                amount=outcome.bonus,
                basis=outcome.growth,
                rate_pct=outcome.band.rate_pct,
                description=(
                    f"Growth bonus {month:%Y-%m}: MRR {current[(partner_id, currency)]} vs "
                    f"baseline {outcome.baseline} (+{outcome.growth_pct} %), "
                    f"{_plain(outcome.band.rate_pct)} % of {outcome.growth}"
                )[:300],
                source_key=f"growth:{partner_id}:{currency}:{month:%Y-%m}",
            )
        )
    return entries


def _new_client_entries(
    month: datetime.date,
    rule: GrowthRuleFacts,
    partner_ids: Sequence[int] | None,
    paid_only: bool,
) -> list[tuple]:
    if rule.new_client_bonus <= 0 or rule.new_client_months < 1:
        return []
    first = months_back(month, rule.new_client_months - 1)
    first_period = (
        BillingPeriod.objects.filter(month=first, finalized_at__isnull=False)
        .values_list("pk", flat=True)
        .first()
    )
    if first_period is None:
        return []  # nothing was billed in F: no streak can end in this month
    status = _billed_status_sql(paid_only)
    partner_filter = "AND i.partner_id = ANY(%s)" if partner_ids is not None else ""
    params: list[object] = [first_period, rule.currency]
    if partner_ids is not None:
        params.append(list(partner_ids))
    params.append(first)
    with connection.cursor() as cursor:
        # Clients billed in F (in the rule's currency) and never billed before F: the candidates.
        # Only month F's lines are read; each candidate's earlier history is an index probe.
        cursor.execute(
            f"""
            SELECT DISTINCT l.client_id, i.partner_id
            FROM billing_invoice i
            JOIN billing_invoiceline l ON l.invoice_id = i.id
            WHERE i.period_id = %s AND i.currency = %s AND l.adjustment_of IS NULL
              AND l.net_amount > 0 AND {status} {partner_filter}
              AND NOT EXISTS (
                SELECT 1 FROM billing_invoiceline l2
                JOIN billing_invoice i2 ON i2.id = l2.invoice_id
                JOIN billing_billingperiod p2 ON p2.id = i2.period_id
                WHERE l2.client_id = l.client_id AND p2.month < %s
                  AND l2.adjustment_of IS NULL AND l2.net_amount > 0
                  AND {status.replace("i.", "i2.")}
              )
            """,
            params,
        )
        candidates = dict(cursor.fetchall())
        if not candidates:
            return []
        cursor.execute(
            f"""
            SELECT l.client_id, array_agg(DISTINCT p.month)
            FROM billing_invoiceline l
            JOIN billing_invoice i ON i.id = l.invoice_id
            JOIN billing_billingperiod p ON p.id = i.period_id
            WHERE l.client_id = ANY(%s) AND p.month >= %s AND p.month <= %s
              AND l.adjustment_of IS NULL AND l.net_amount > 0 AND {status}
            GROUP BY 1
            """,
            [sorted(candidates), first, month],
        )
        billed = dict(cursor.fetchall())
    entries = []
    for client_id, partner_id in sorted(candidates.items()):
        if not new_client_bonus_due(
            month=month,
            months_required=rule.new_client_months,
            billed_months=billed.get(client_id, ()),
            billed_before=False,
        ):
            continue
        entries.append(
            _row(
                partner_id=partner_id,
                currency=rule.currency,
                kind=EntryKind.NEW_CLIENT_BONUS,
                month=month,
                amount=rule.new_client_bonus,
                description=(
                    f"New-client bonus: billed {rule.new_client_months} months in a row since "
                    f"{first:%Y-%m}"
                ),
                source_key=f"new-client:{client_id}",
                client_id=client_id,
            )
        )
    return entries


def _bonus_rows(
    month: datetime.date,
    *,
    partner_ids: Sequence[int] | None,
    paid_only: bool,
    reads: _Reads | None = None,
) -> list[tuple]:
    rule = in_force(growth_rules_facts(), month)
    if rule is None:
        return []
    entries = _growth_entries(month, rule, partner_ids, paid_only, reads)
    entries += _new_client_entries(month, rule, partner_ids, paid_only)
    return entries


def _post_bonuses(
    month: datetime.date, *, partner_ids: Sequence[int] | None, paid_only: bool
) -> int:
    return post_rows(_bonus_rows(month, partner_ids=partner_ids, paid_only=paid_only))


def _collected_bonuses(invoice: Invoice) -> int:
    """Collected basis: the payment of the partner's invoice of month X may complete the growth
    bonus of X and new-client streaks that end in X … X+N−1 (months already finalized)."""
    month = invoice.period.month
    new = _post_bonuses(month, partner_ids=[invoice.partner_id], paid_only=True)
    rule = in_force(growth_rules_facts(), month)
    months = rule.new_client_months if rule is not None else 1
    finalized = set(
        BillingPeriod.objects.filter(
            month__gt=month,
            month__lte=months_back(month, -(months - 1)),
            finalized_at__isnull=False,
        ).values_list("month", flat=True)
    )
    for later in sorted(finalized):
        later_rule = in_force(growth_rules_facts(), later)
        if later_rule is not None:
            new += post_rows(
                _new_client_entries(later, later_rule, [invoice.partner_id], paid_only=True)
            )
    return new
