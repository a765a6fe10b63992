"""The `data` of incentives' outbound webhooks (registered with webhooks.payloads in apps.py):
`statement.approved` — the statement's figures as in `GET /api/v1/statements/{id}/`, without
entries and disputes (fetch the statement for those), with its payout; `payout.paid` — the payout
as in `GET /api/v1/payouts/{id}/`."""

from __future__ import annotations

from typing import Any

from .api.serializers_statements import PayoutSerializer, StatementSerializer
from .models import Payout, Statement

_SUMMARY = [f for f in StatementSerializer.Meta.fields if f not in ("entries", "disputes")]


def statement_approved(*, statement_id: int) -> list[dict[str, Any]]:
    statement = (
        Statement.objects.select_related("payout", "payout__credited_invoice")
        .filter(pk=statement_id)
        .first()
    )
    if statement is None:
        return []
    data = StatementSerializer(statement).data
    return [{name: data[name] for name in _SUMMARY}]


def payout_paid(*, payout_id: int) -> list[dict[str, Any]]:
    payouts = Payout.objects.select_related("credited_invoice").filter(pk=payout_id)
    return [dict(PayoutSerializer(payout).data) for payout in payouts]
