"""Writes to partners: creation, profile edits, lifecycle transitions."""

from __future__ import annotations

import datetime
import zoneinfo
from decimal import Decimal, InvalidOperation
from typing import Any

from babel import Locale
from babel.numbers import is_currency
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import connection, transaction
from django.utils import timezone

from core.actors import Actor
from core.services.audit import audit_record, audited_update, snapshot
from partners.enums import PARTNER_TRANSITIONS, PartnerStatus
from partners.errors import PartnerError
from partners.models import Partner, PartnerStatusChange, Tier, Track

EDITABLE_FIELDS = (
    "name",
    "external_id",
    "currency",
    "country",
    "billing_email",
    "tax_rate",
    "billing_address",
)
_COUNTRIES = frozenset(
    code for code in Locale("en").territories if len(code) == 2 and code.isalpha()
)


def today_for_vendor() -> datetime.date:
    """Today in the vendor's time zone (lifecycle dates are the vendor's calendar days)."""
    zone = getattr(connection.tenant, "timezone", None) or "UTC"
    return timezone.now().astimezone(zoneinfo.ZoneInfo(zone)).date()


def clean_partner_fields(fields: dict[str, Any]) -> dict[str, Any]:
    """Normalise and validate profile fields; raises PartnerError naming the bad field."""
    cleaned = dict(fields)
    if "name" in cleaned:
        cleaned["name"] = str(cleaned["name"]).strip()
        if not cleaned["name"]:
            raise PartnerError("A partner needs a name.", field="name")
        if len(cleaned["name"]) > 200:
            raise PartnerError("Names are at most 200 characters.", field="name")
    if "external_id" in cleaned:
        cleaned["external_id"] = str(cleaned["external_id"] or "").strip()
        if len(cleaned["external_id"]) > 100:
            raise PartnerError("External ids are at most 100 characters.", field="external_id")
    if "currency" in cleaned:
        cleaned["currency"] = str(cleaned["currency"]).strip().upper()
        if len(cleaned["currency"]) != 3 or not is_currency(cleaned["currency"]):
            raise PartnerError(
                f"“{cleaned['currency']}” is not an ISO 4217 currency code.", field="currency"
            )
    if "country" in cleaned:
        cleaned["country"] = str(cleaned["country"]).strip().upper()
        if cleaned["country"] not in _COUNTRIES:
            raise PartnerError(
                f"“{cleaned['country']}” is not an ISO 3166 country code (e.g. DE).",
                field="country",
            )
    if "billing_address" in cleaned:
        # Browsers send textarea line breaks as CRLF; store plain newlines.
        address = str(cleaned["billing_address"] or "").replace("\r\n", "\n").replace("\r", "\n")
        cleaned["billing_address"] = address.strip()
    if cleaned.get("billing_email"):
        cleaned["billing_email"] = str(cleaned["billing_email"]).strip().lower()
        try:
            validate_email(cleaned["billing_email"])
        except ValidationError:
            raise PartnerError("Enter a valid billing email.", field="billing_email") from None
    if "tax_rate" in cleaned:
        try:
            rate = Decimal(str(cleaned["tax_rate"]))
        except (InvalidOperation, ValueError):
            raise PartnerError(
                "The tax rate is a percentage, e.g. 19.00.", field="tax_rate"
            ) from None
        if not (Decimal("0") <= rate <= Decimal("100")) or rate != rate.quantize(Decimal("0.01")):
            raise PartnerError(
                "The tax rate is a percentage between 0 and 100 with at most two decimals.",
                field="tax_rate",
            )
        cleaned["tax_rate"] = rate.quantize(Decimal("0.01"))  # as stored: "16" is 16.00
    return cleaned


def _check_external_id_free(external_id: str, exclude_pk: int | None = None) -> None:
    if not external_id:
        return
    taken = Partner.objects.filter(external_id=external_id)
    if exclude_pk is not None:
        taken = taken.exclude(pk=exclude_pk)
    if taken.exists():
        raise PartnerError(
            f"Another partner already has the external id “{external_id}”.", field="external_id"
        )


def partner_create(
    *,
    name: str,
    track: Track,
    currency: str,
    country: str,
    actor: Actor,
    billing_email: str = "",
    tax_rate: Decimal | str = Decimal("0"),
    external_id: str = "",
    billing_address: str = "",
    status: str = PartnerStatus.ONBOARDING,
    tier: Tier | None = None,
) -> Partner:
    fields = clean_partner_fields(
        {
            "name": name,
            "currency": currency,
            "country": country,
            "billing_email": billing_email,
            "tax_rate": tax_rate,
            "external_id": external_id,
            "billing_address": billing_address,
        }
    )
    if status not in PartnerStatus.values:
        raise PartnerError(f"Unknown status “{status}”.", field="status")
    if tier is not None and tier.track_id != track.pk:
        raise PartnerError(f"The tier {tier.name} belongs to another track.", field="tier")
    if tier is None:
        tier = track.tiers.order_by("rank").first()
    with transaction.atomic():
        _check_external_id_free(fields["external_id"])
        partner = Partner.objects.create(
            **fields, track=track, tier=tier, status=status, status_since=today_for_vendor()
        )
        PartnerStatusChange.objects.create(
            partner=partner,
            from_status="",
            to_status=status,
            effective_on=partner.status_since,
            reason="Partner created",
            actor_label=actor.label,
        )
        audit_record(
            actor=actor, action="partner.created", instance=partner, after=snapshot(partner)
        )
    return partner


def partner_update(*, partner: Partner, actor: Actor, **changes: Any) -> Partner:
    unknown = set(changes) - set(EDITABLE_FIELDS)
    if unknown:
        raise PartnerError(f"These fields cannot be changed here: {', '.join(sorted(unknown))}.")
    cleaned = clean_partner_fields(changes)
    with transaction.atomic():
        locked = Partner.objects.select_for_update().get(pk=partner.pk)
        if "external_id" in cleaned:
            _check_external_id_free(cleaned["external_id"], exclude_pk=locked.pk)
        changed = {k: v for k, v in cleaned.items() if getattr(locked, k) != v}
        if changed:
            audited_update(locked, actor=actor, action="partner.updated", changes=changed)
    return locked


def partner_change_status(
    *,
    partner: Partner,
    to_status: str,
    reason: str,
    actor: Actor,
    effective_on: datetime.date | None = None,
) -> Partner:
    """Move a partner along its lifecycle (applied → onboarding → active → suspended →
    terminated), with the date it takes effect and why."""
    reason = reason.strip()
    with transaction.atomic():
        locked = Partner.objects.select_for_update().get(pk=partner.pk)
        allowed = PARTNER_TRANSITIONS.get(locked.status, set())
        if to_status not in allowed:
            target = (
                PartnerStatus(to_status).label if to_status in PartnerStatus.values else to_status
            )
            raise PartnerError(
                f"A partner that is {locked.get_status_display().lower()} cannot become "
                f"{target.lower()}.",
                field="status",
            )
        if to_status in (PartnerStatus.SUSPENDED, PartnerStatus.TERMINATED) and not reason:
            raise PartnerError("Give a reason.", field="reason")
        effective_on = effective_on or today_for_vendor()
        from_status = locked.status
        audited_update(
            locked,
            actor=actor,
            action=f"partner.{to_status}",
            changes={"status": to_status, "status_since": effective_on},
        )
        PartnerStatusChange.objects.create(
            partner=locked,
            from_status=from_status,
            to_status=to_status,
            effective_on=effective_on,
            reason=reason,
            actor_label=actor.label,
        )
    return locked
