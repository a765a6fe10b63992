"""Cheaper month-end ledger writes (see LedgerEntry): one composite foreign key per entry —
(statement, partner) → the statement's (id, partner) — instead of eight; the unique source key as
a constraint without the LIKE index; no index on the partner (nothing reads entries by it);
partial indexes on credit note and payout; no separate index on a statement's partner;
statements' pages half free for in-place (HOT) updates."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0010_invoice_product_totals"),
        ("incentives", "0002_ledger_entry_multiplier_lean_indexes"),
        ("partners", "0005_client_external_id_index"),
    ]

    operations = [
        migrations.RemoveIndex(model_name="ledgerentry", name="incentives_entry_partner_idx"),
        migrations.AlterField(
            model_name="ledgerentry",
            name="client",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="partners.client",
            ),
        ),
        migrations.AlterField(
            model_name="ledgerentry",
            name="credit_note",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="billing.creditnote",
            ),
        ),
        migrations.AlterField(
            model_name="ledgerentry",
            name="invoice",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="billing.invoice",
            ),
        ),
        migrations.AlterField(
            model_name="ledgerentry",
            name="partner",
            field=models.ForeignKey(
                db_constraint=False,
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="partners.partner",
            ),
        ),
        migrations.AlterField(
            model_name="ledgerentry",
            name="payout",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="entries",
                to="incentives.payout",
            ),
        ),
        migrations.AlterField(
            model_name="ledgerentry",
            name="product",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="billing.product",
            ),
        ),
        migrations.AlterField(
            model_name="ledgerentry",
            name="reverses",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="reversed_by",
                to="incentives.ledgerentry",
            ),
        ),
        migrations.AlterField(
            model_name="ledgerentry",
            name="source_key",
            field=models.CharField(max_length=120),
        ),
        migrations.AlterField(
            model_name="ledgerentry",
            name="statement",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="entries",
                to="incentives.statement",
            ),
        ),
        migrations.AlterField(
            model_name="statement",
            name="partner",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="statements",
                to="partners.partner",
            ),
        ),
        migrations.AddIndex(
            model_name="ledgerentry",
            index=models.Index(
                condition=models.Q(("credit_note__isnull", False)),
                fields=["credit_note"],
                name="incentives_entry_credit_idx",
            ),
        ),
        migrations.AddIndex(
            model_name="ledgerentry",
            index=models.Index(
                condition=models.Q(("payout__isnull", False)),
                fields=["payout"],
                name="incentives_entry_payout_idx",
            ),
        ),
        migrations.AddConstraint(
            model_name="ledgerentry",
            constraint=models.UniqueConstraint(
                fields=("source_key",), name="incentives_entry_source_key_once"
            ),
        ),
        migrations.AddConstraint(
            model_name="statement",
            constraint=models.UniqueConstraint(
                fields=("id", "partner"), name="incentives_statement_id_partner"
            ),
        ),
        # Statements are updated in place at every posting: half of each page free, so those
        # updates are HOT (no index touched) instead of rewriting four indexes per statement.
        migrations.RunSQL(
            "ALTER TABLE incentives_statement SET (fillfactor = 50)",
            "ALTER TABLE incentives_statement RESET (fillfactor)",
        ),
        migrations.RunSQL(
            """
        ALTER TABLE incentives_ledgerentry ADD CONSTRAINT incentives_entry_on_partner_statement
            FOREIGN KEY (statement_id, partner_id)
            REFERENCES incentives_statement (id, partner_id) DEFERRABLE INITIALLY DEFERRED
        """,
            "ALTER TABLE incentives_ledgerentry DROP CONSTRAINT incentives_entry_on_partner_statement",
        ),
    ]
