"""The ledger's database guards after the lean-write migration: one composite foreign key per
entry, (statement, partner) → the statement's (id, partner), refuses an entry on a missing
statement or on another partner's statement; source keys stay unique."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, connection, transaction
from django_tenants.utils import schema_context

from incentives.models import LedgerEntry
from tests.factories import PartnerFactory

from .statement_support import post

pytestmark = pytest.mark.django_db


def _checked_now(update: dict) -> None:
    """Apply `update` to every entry with the deferred key checked at once (not at commit)."""
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS incentives_entry_on_partner_statement IMMEDIATE")
        LedgerEntry.objects.update(**update)


def test_an_entry_cannot_sit_on_another_partners_statement(vendor_a):
    with schema_context(vendor_a.schema):
        owner, other = PartnerFactory(), PartnerFactory()
        entry = post(owner, "2026-10", "40.00")
        with pytest.raises(IntegrityError, match="incentives_entry_on_partner_statement"):
            _checked_now({"partner_id": other.pk})
        entry.refresh_from_db()
        assert entry.partner_id == owner.pk


def test_an_entry_cannot_point_at_a_missing_statement(vendor_a):
    with schema_context(vendor_a.schema):
        entry = post(PartnerFactory(), "2026-10", "40.00")
        with pytest.raises(IntegrityError, match="incentives_entry_on_partner_statement"):
            _checked_now({"statement_id": entry.statement_id + 10_000})
        entry.refresh_from_db()
        assert LedgerEntry.objects.filter(statement_id=entry.statement_id).count() == 1


def test_a_source_key_is_posted_once(vendor_a):
    with schema_context(vendor_a.schema):
        entry = post(PartnerFactory(), "2026-10", "40.00")
        duplicate = LedgerEntry.objects.get(pk=entry.pk)
        duplicate.pk = None
        with (
            pytest.raises(IntegrityError, match="incentives_entry_source_key_once"),
            transaction.atomic(),
        ):
            duplicate.save()
