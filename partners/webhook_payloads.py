"""The `data` of the partners app's outbound webhooks (registered with webhooks.payloads in
apps.py): a partner as `GET /api/v1/partners/{id}/` shows it."""

from __future__ import annotations

from typing import Any

from partners.api.serializers import PartnerSerializer
from partners.models import Partner


def partner_approved(*, partner_id: int) -> list[dict[str, Any]]:
    partners = Partner.objects.select_related("track", "tier").filter(pk=partner_id)
    return [dict(PartnerSerializer(partner).data) for partner in partners]
