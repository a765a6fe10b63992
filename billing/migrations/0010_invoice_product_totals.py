"""Per-product totals of finalized invoices (see InvoiceProductTotal), recorded by finalize from
now on and backfilled here for the invoices finalized before (the same grouping as
billing.closing.totals, written out so that later changes there do not rewrite history)."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0009_invoice_line_lean_indexes"),
    ]

    operations = [
        migrations.CreateModel(
            name="InvoiceProductTotal",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("net_amount", models.DecimalField(decimal_places=4, max_digits=18)),
                (
                    "recurring",
                    models.DecimalField(blank=True, decimal_places=4, max_digits=18, null=True),
                ),
                ("lines", models.PositiveIntegerField()),
                (
                    "invoice",
                    models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="product_totals",
                        to="billing.invoice",
                    ),
                ),
                (
                    "product",
                    models.ForeignKey(
                        blank=True,
                        db_constraint=False,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="billing.product",
                    ),
                ),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(
                        fields=("invoice", "product"),
                        name="billing_product_total_one_per_product",
                        nulls_distinct=False,
                    )
                ],
            },
        ),
        migrations.RunSQL(
            """
            INSERT INTO billing_invoiceproducttotal (invoice_id, product_id, net_amount, recurring,
                                                     lines)
            SELECT g.invoice_id, COALESCE(m.product_id, pp.product_id),
                   sum(g.net), sum(g.recurring), sum(g.lines)
            FROM (
                SELECT l.invoice_id, l.charge_id, sum(l.net_amount) AS net,
                       sum(l.net_amount) FILTER (WHERE l.adjustment_of IS NULL) AS recurring,
                       count(*) AS lines
                FROM billing_invoiceline l
                WHERE l.invoice_id IN (SELECT id FROM billing_invoice WHERE number IS NOT NULL)
                GROUP BY 1, 2
            ) g
            LEFT JOIN billing_charge c ON c.id = g.charge_id
            LEFT JOIN billing_priceplanversion v ON v.id = c.version_id
            LEFT JOIN billing_priceplan pp ON pp.id = v.plan_id
            LEFT JOIN billing_meter m ON m.id = c.meter_id
            GROUP BY 1, 2
            """,
            migrations.RunSQL.noop,
        ),
    ]
