"""Invoice lines' references to their invoice and client checked per statement instead of per
line: the database foreign keys go (each cost a deferred lookup and a share lock of the referenced
row per line at commit — most of a first close's commit time), and statement-level triggers take
their place:

- after an INSERT (also a COPY) or UPDATE of lines: every distinct invoice and client they name
  must exist (two anti-joins over the statement's transition table);
- after a DELETE of invoices or clients: no line may still refer to one of them.

Violations raise foreign_key_violation (an IntegrityError in Django), immediately rather than at
commit. Unlike a foreign key, the check takes no lock on the referenced rows; nothing deletes a
client, and only rating deletes draft invoices — of the partners its chunk holds."""

import django.db.models.deletion
from django.db import migrations, models

FORWARD = r"""
CREATE FUNCTION billing_lines_refer_to_rows() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    missing bigint;
BEGIN
    SELECT d.invoice_id INTO missing FROM (SELECT DISTINCT invoice_id FROM new_lines) d
        WHERE NOT EXISTS (SELECT 1 FROM billing_invoice i WHERE i.id = d.invoice_id) LIMIT 1;
    IF missing IS NOT NULL THEN
        RAISE EXCEPTION 'Invoice line refers to invoice %, which does not exist.', missing
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    SELECT d.client_id INTO missing FROM (SELECT DISTINCT client_id FROM new_lines) d
        WHERE NOT EXISTS (SELECT 1 FROM partners_client c WHERE c.id = d.client_id) LIMIT 1;
    IF missing IS NOT NULL THEN
        RAISE EXCEPTION 'Invoice line refers to client %, which does not exist.', missing
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER billing_line_refs_inserted
    AFTER INSERT ON billing_invoiceline REFERENCING NEW TABLE AS new_lines
    FOR EACH STATEMENT EXECUTE FUNCTION billing_lines_refer_to_rows();
CREATE TRIGGER billing_line_refs_updated
    AFTER UPDATE ON billing_invoiceline REFERENCING NEW TABLE AS new_lines
    FOR EACH STATEMENT EXECUTE FUNCTION billing_lines_refer_to_rows();

CREATE FUNCTION billing_invoices_deleted_without_lines() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    kept bigint;
BEGIN
    SELECT o.id INTO kept FROM old_invoices o
        WHERE EXISTS (SELECT 1 FROM billing_invoiceline l WHERE l.invoice_id = o.id) LIMIT 1;
    IF kept IS NOT NULL THEN
        RAISE EXCEPTION 'Invoice % still has lines: delete them first.', kept
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER billing_invoice_deleted_refs
    AFTER DELETE ON billing_invoice REFERENCING OLD TABLE AS old_invoices
    FOR EACH STATEMENT EXECUTE FUNCTION billing_invoices_deleted_without_lines();

CREATE FUNCTION billing_clients_deleted_without_lines() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    kept bigint;
BEGIN
    SELECT o.id INTO kept FROM old_clients o
        WHERE EXISTS (SELECT 1 FROM billing_invoiceline l WHERE l.client_id = o.id) LIMIT 1;
    IF kept IS NOT NULL THEN
        RAISE EXCEPTION 'Client % is billed on invoice lines and cannot be deleted.', kept
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER billing_client_deleted_refs
    AFTER DELETE ON partners_client REFERENCING OLD TABLE AS old_clients
    FOR EACH STATEMENT EXECUTE FUNCTION billing_clients_deleted_without_lines();
"""

BACKWARD = r"""
DROP TRIGGER billing_client_deleted_refs ON partners_client;
DROP FUNCTION billing_clients_deleted_without_lines();
DROP TRIGGER billing_invoice_deleted_refs ON billing_invoice;
DROP FUNCTION billing_invoices_deleted_without_lines();
DROP TRIGGER billing_line_refs_updated ON billing_invoiceline;
DROP TRIGGER billing_line_refs_inserted ON billing_invoiceline;
DROP FUNCTION billing_lines_refer_to_rows();
"""


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0010_invoice_product_totals"),
        ("partners", "0005_client_external_id_index"),
    ]

    operations = [
        migrations.AlterField(
            model_name="invoiceline",
            name="client",
            field=models.ForeignKey(
                db_constraint=False,
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
                db_constraint=False,
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="lines",
                to="billing.invoice",
            ),
        ),
        migrations.RunSQL(FORWARD, BACKWARD),
    ]
