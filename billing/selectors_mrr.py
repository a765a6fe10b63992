"""MRR as recorded when periods are finalized (billing.services.periods._record_mrr)."""

from __future__ import annotations

from decimal import Decimal

from django.db.models import F

from billing.models import PartnerMrr


def latest_mrr(partner_ids: list[int]) -> dict[int, Decimal]:
    """Each partner's MRR of its latest finalized month, in its billing currency (a tier's
    minimum MRR is a figure in the program's currency, which partners bill in)."""
    result: dict[int, Decimal] = {}
    rows = (
        PartnerMrr.objects.filter(partner_id__in=partner_ids, currency=F("partner__currency"))
        .order_by("partner_id", "-month")
        .distinct("partner_id")
        .values_list("partner_id", "amount")
    )
    for partner_id, amount in rows:
        result[partner_id] = amount
    return result
