"""What finalize derives from a period's invoice lines, in one pass: each invoice's lines summed
per product (`InvoiceProductTotal`), and each partner's MRR summed from those.

One grouped read of the month's lines serves both (MRR used to be a pass of its own), so commission
accrual — which needs the same sums per invoice and product — reads a few thousand rows instead of
grouping hundreds of thousands of lines again at month-end. A line's product is its meter's, else
its price plan's (seat lines); lines whose charge maps to no product are summed under null.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db import connection

from billing.models import BillingPeriod, InvoiceProductTotal, PartnerMrr

__all__ = ["partner_mrr_record", "product_totals_record"]

# Lines grouped per (invoice, charge) first — a few charges, thousands of invoices — then charges
# mapped to products: the join runs over the groups, not over every line.
_TOTALS_SQL = """
INSERT INTO {totals} (invoice_id, product_id, net_amount, recurring, lines)
SELECT g.invoice_id, COALESCE(m.product_id, pp.product_id),
       sum(g.net), sum(g.recurring), sum(g.lines)
FROM (
    SELECT l.invoice_id, l.charge_id, sum(l.net_amount) AS net,
           sum(l.net_amount) FILTER (WHERE l.adjustment_of IS NULL) AS recurring,
           count(*) AS lines
    FROM billing_invoiceline l
    WHERE {where}
    GROUP BY 1, 2
) g
LEFT JOIN billing_charge c ON c.id = g.charge_id
LEFT JOIN billing_priceplanversion v ON v.id = c.version_id
LEFT JOIN billing_priceplan pp ON pp.id = v.plan_id
LEFT JOIN billing_meter m ON m.id = c.meter_id
GROUP BY 1, 2
ON CONFLICT DO NOTHING
"""


def product_totals_record(
    *, period: BillingPeriod | None = None, invoice_ids: Sequence[int] | None = None
) -> None:
    """Sum the lines of the period's invoices (or of `invoice_ids`) per product. Call it in the
    transaction that finalizes them; a total already recorded is left as it is."""
    if period is not None:
        where, params = (
            "l.invoice_id IN (SELECT id FROM billing_invoice WHERE period_id = %s)",
            [period.pk],
        )
    elif invoice_ids:
        where, params = "l.invoice_id = ANY(%s)", [list(invoice_ids)]
    else:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            _TOTALS_SQL.format(totals=InvoiceProductTotal._meta.db_table, where=where), params
        )


def partner_mrr_record(period: BillingPeriod) -> None:
    """Each partner's recurring revenue of the month: Σ net of its lines that are not prior-period
    adjustments, per currency — from the product totals (`product_totals_record` first). A
    partner billed only adjustments gets no MRR row."""
    PartnerMrr.objects.filter(month=period.month).delete()
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {PartnerMrr._meta.db_table} (partner_id, month, currency, amount,
                                                      recorded_at)
            SELECT i.partner_id, %s, i.currency, sum(t.recurring), now()
            FROM {InvoiceProductTotal._meta.db_table} t
            JOIN billing_invoice i ON i.id = t.invoice_id
            WHERE i.period_id = %s AND t.recurring IS NOT NULL
            GROUP BY i.partner_id, i.currency
            """,
            [period.month, period.pk],
        )
