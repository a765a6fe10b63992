"""Agreement versions and acceptances are records of what was agreed: the database refuses any
UPDATE or DELETE of them (a new text is a new version)."""

from django.db import migrations

FORBID = """
CREATE FUNCTION forbid_agreement_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% rows are immutable', TG_TABLE_NAME USING ERRCODE = 'integrity_constraint_violation';
END
$$;
CREATE TRIGGER agreement_version_immutable BEFORE UPDATE OR DELETE ON partners_agreementversion
    FOR EACH ROW EXECUTE FUNCTION forbid_agreement_change();
CREATE TRIGGER agreement_acceptance_immutable BEFORE UPDATE OR DELETE ON partners_agreementacceptance
    FOR EACH ROW EXECUTE FUNCTION forbid_agreement_change();
"""

ALLOW = """
DROP TRIGGER agreement_acceptance_immutable ON partners_agreementacceptance;
DROP TRIGGER agreement_version_immutable ON partners_agreementversion;
DROP FUNCTION forbid_agreement_change();
"""


class Migration(migrations.Migration):
    dependencies = [("partners", "0001_program_partners_clients_agreements")]

    operations = [migrations.RunSQL(FORBID, ALLOW)]
