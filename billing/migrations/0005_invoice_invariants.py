"""Invoice invariants the database enforces, whatever code writes the rows:

- a finalized invoice (one with a number) keeps its figures, number, partner, period and lines, and
  is never deleted; only its payment status moves on (never back to draft);
- an invoice's subtotal and discount equal the sums of its lines' amounts and discounts — checked
  at commit by a deferred constraint trigger, so a transaction may write the invoice and then its
  lines; any statement that changes lines re-queues the check of their invoices.
Line changes are checked per statement (transition tables), not per row: rating writes hundreds of
thousands of lines at month-end.
"""

from django.db import migrations

FORWARD = r"""
CREATE FUNCTION billing_invoice_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF OLD.number IS NOT NULL THEN
            RAISE EXCEPTION 'Invoice % is finalized and cannot be deleted.', OLD.number
                USING ERRCODE = 'restrict_violation';
        END IF;
        RETURN OLD;
    END IF;
    IF OLD.number IS NOT NULL AND (
        NEW.number IS DISTINCT FROM OLD.number
        OR NEW.status = 'draft'
        OR NEW.subtotal <> OLD.subtotal OR NEW.discount <> OLD.discount
        OR NEW.tax <> OLD.tax OR NEW.total <> OLD.total
        OR NEW.currency <> OLD.currency OR NEW.partner_id <> OLD.partner_id
        OR NEW.period_id <> OLD.period_id
        OR NEW.discount_pct <> OLD.discount_pct OR NEW.tax_rate <> OLD.tax_rate
        OR NEW.tier_name <> OLD.tier_name
        OR NEW.bill_to_name <> OLD.bill_to_name OR NEW.bill_to_email <> OLD.bill_to_email
        OR NEW.bill_to_address <> OLD.bill_to_address
        OR NEW.bill_to_country <> OLD.bill_to_country
        OR NEW.issued_on IS DISTINCT FROM OLD.issued_on
        OR NEW.finalized_at IS DISTINCT FROM OLD.finalized_at
    ) THEN
        RAISE EXCEPTION 'Invoice % is finalized: only its payment status can change.', OLD.number
            USING ERRCODE = 'restrict_violation';
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER billing_invoice_finalized_is_immutable
    BEFORE UPDATE OR DELETE ON billing_invoice
    FOR EACH ROW EXECUTE FUNCTION billing_invoice_guard();

CREATE FUNCTION billing_invoice_check_totals() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    invoice record;
    line_amounts numeric;
    line_discounts numeric;
BEGIN
    -- Deferred: it runs at commit, whatever the search_path is then, so name the schema.
    EXECUTE format('SELECT subtotal, discount, number FROM %I.billing_invoice WHERE id = $1',
                   TG_TABLE_SCHEMA)
        INTO invoice USING NEW.id;
    IF invoice.subtotal IS NULL THEN
        RETURN NULL;  -- deleted later in the same transaction
    END IF;
    EXECUTE format('SELECT coalesce(sum(amount), 0), coalesce(sum(discount), 0) '
                   'FROM %I.billing_invoiceline WHERE invoice_id = $1', TG_TABLE_SCHEMA)
        INTO line_amounts, line_discounts USING NEW.id;
    IF line_amounts <> invoice.subtotal OR line_discounts <> invoice.discount THEN
        RAISE EXCEPTION 'Invoice % totals do not match its lines (subtotal % vs lines %, discount % vs lines %).',
            coalesce(invoice.number, 'draft ' || NEW.id), invoice.subtotal, line_amounts,
            invoice.discount, line_discounts
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END
$$;

CREATE CONSTRAINT TRIGGER billing_invoice_totals_match_lines
    AFTER INSERT OR UPDATE ON billing_invoice
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION billing_invoice_check_totals();

CREATE FUNCTION billing_invoice_lines_changed(invoice_ids bigint[]) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    finalized text;
BEGIN
    SELECT number INTO finalized FROM billing_invoice
        WHERE id = ANY(invoice_ids) AND number IS NOT NULL LIMIT 1;
    IF finalized IS NOT NULL THEN
        RAISE EXCEPTION 'Invoice % is finalized: its lines cannot change.', finalized
            USING ERRCODE = 'restrict_violation';
    END IF;
    -- Touch the invoices so the deferred totals check runs for each of them at commit.
    UPDATE billing_invoice SET updated_at = updated_at WHERE id = ANY(invoice_ids);
END
$$;

CREATE FUNCTION billing_invoice_lines_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM billing_invoice_lines_changed(ARRAY(SELECT DISTINCT invoice_id FROM new_lines));
    RETURN NULL;
END
$$;

CREATE FUNCTION billing_invoice_lines_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM billing_invoice_lines_changed(ARRAY(
        SELECT invoice_id FROM old_lines UNION SELECT invoice_id FROM new_lines));
    RETURN NULL;
END
$$;

CREATE FUNCTION billing_invoice_lines_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM billing_invoice_lines_changed(ARRAY(SELECT DISTINCT invoice_id FROM old_lines));
    RETURN NULL;
END
$$;

CREATE TRIGGER billing_invoice_lines_inserted
    AFTER INSERT ON billing_invoiceline REFERENCING NEW TABLE AS new_lines
    FOR EACH STATEMENT EXECUTE FUNCTION billing_invoice_lines_inserted();
CREATE TRIGGER billing_invoice_lines_updated
    AFTER UPDATE ON billing_invoiceline REFERENCING OLD TABLE AS old_lines NEW TABLE AS new_lines
    FOR EACH STATEMENT EXECUTE FUNCTION billing_invoice_lines_updated();
CREATE TRIGGER billing_invoice_lines_deleted
    AFTER DELETE ON billing_invoiceline REFERENCING OLD TABLE AS old_lines
    FOR EACH STATEMENT EXECUTE FUNCTION billing_invoice_lines_deleted();
"""

BACKWARD = r"""
DROP TRIGGER billing_invoice_lines_deleted ON billing_invoiceline;
DROP TRIGGER billing_invoice_lines_updated ON billing_invoiceline;
DROP TRIGGER billing_invoice_lines_inserted ON billing_invoiceline;
DROP FUNCTION billing_invoice_lines_deleted();
DROP FUNCTION billing_invoice_lines_updated();
DROP FUNCTION billing_invoice_lines_inserted();
DROP FUNCTION billing_invoice_lines_changed(bigint[]);
DROP TRIGGER billing_invoice_totals_match_lines ON billing_invoice;
DROP FUNCTION billing_invoice_check_totals();
DROP TRIGGER billing_invoice_finalized_is_immutable ON billing_invoice;
DROP FUNCTION billing_invoice_guard();
"""


class Migration(migrations.Migration):
    dependencies = [("billing", "0004_invoicing")]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
