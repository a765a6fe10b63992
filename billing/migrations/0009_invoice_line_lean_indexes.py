"""Invoice lines lose the indexes and foreign-key checks that only cost month-end rating time:
the single-column indexes on invoice and client (each the leading column of another index) and on
charge and meter (nothing looks lines up by them), and the database constraints on charge and
meter (see InvoiceLine: written only by rating from the catalog; charges and meters are never
deleted). Invoice and client keep their foreign keys."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0008_invoice_credits"),
        ("partners", "0005_client_external_id_index"),
    ]

    operations = [
        migrations.AlterField(
            model_name="invoiceline",
            name="charge",
            field=models.ForeignKey(
                db_constraint=False,
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="billing.charge",
            ),
        ),
        migrations.AlterField(
            model_name="invoiceline",
            name="client",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="partners.client",
            ),
        ),
        migrations.AlterField(
            model_name="invoiceline",
            name="invoice",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="lines",
                to="billing.invoice",
            ),
        ),
        migrations.AlterField(
            model_name="invoiceline",
            name="meter",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="billing.meter",
            ),
        ),
    ]
