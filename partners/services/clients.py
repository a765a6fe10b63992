"""Writes to an MSP's clients: create, edit, status changes (suspend, churn with a date, …)."""

from __future__ import annotations

import datetime
from typing import Any

from django.db import transaction

from core.actors import Actor
from core.services.audit import audit_record, audited_update, snapshot
from partners.enums import ClientStatus
from partners.errors import PartnerError
from partners.models import Client, Partner

from .partners import today_for_vendor

EDITABLE_FIELDS = ("name", "external_id", "service_tier", "started_on")


def clean_client_fields(fields: dict[str, Any]) -> dict[str, Any]:
    cleaned = dict(fields)
    for name, limit, label in (("name", 200, "Name"), ("external_id", 100, "External id")):
        if name in cleaned:
            cleaned[name] = str(cleaned[name] or "").strip()
            if not cleaned[name]:
                raise PartnerError(f"{label} is required.", field=name)
            if len(cleaned[name]) > limit:
                raise PartnerError(f"{label} is at most {limit} characters.", field=name)
    if "service_tier" in cleaned:
        cleaned["service_tier"] = str(cleaned["service_tier"] or "").strip()
        if len(cleaned["service_tier"]) > 60:
            raise PartnerError("Service tier is at most 60 characters.", field="service_tier")
    if "status" in cleaned and cleaned["status"] not in ClientStatus.values:
        raise PartnerError(
            f"Unknown status “{cleaned['status']}”; use one of {', '.join(ClientStatus.values)}.",
            field="status",
        )
    for name in ("started_on", "ended_on"):
        if cleaned.get(name) is not None and not isinstance(cleaned[name], datetime.date):
            raise PartnerError("Dates are YYYY-MM-DD.", field=name)
    return cleaned


def _check_dates(started_on: datetime.date, ended_on: datetime.date | None) -> None:
    if ended_on is not None and ended_on < started_on:
        raise PartnerError("A client cannot end before it starts.", field="ended_on")


def _check_external_id_free(partner: Partner, external_id: str, exclude_pk: int | None) -> None:
    taken = Client.objects.filter(partner=partner, external_id=external_id)
    if exclude_pk is not None:
        taken = taken.exclude(pk=exclude_pk)
    if taken.exists():
        raise PartnerError(
            f"Another client of {partner.name} already has the external id “{external_id}”.",
            field="external_id",
        )


def client_create(
    *,
    partner: Partner,
    name: str,
    external_id: str,
    actor: Actor,
    status: str = ClientStatus.ACTIVE,
    service_tier: str = "",
    started_on: datetime.date | None = None,
    ended_on: datetime.date | None = None,
) -> Client:
    fields = clean_client_fields(
        {
            "name": name,
            "external_id": external_id,
            "status": status,
            "service_tier": service_tier,
            "started_on": started_on or today_for_vendor(),
            "ended_on": ended_on,
        }
    )
    if fields["status"] == ClientStatus.CHURNED and fields["ended_on"] is None:
        raise PartnerError("A churned client needs the date it ended.", field="ended_on")
    _check_dates(fields["started_on"], fields["ended_on"])
    with transaction.atomic():
        _check_external_id_free(partner, fields["external_id"], None)
        client = Client.objects.create(partner=partner, **fields)
        audit_record(actor=actor, action="client.created", instance=client, after=snapshot(client))
    return client


def client_update(*, client: Client, actor: Actor, **changes: Any) -> Client:
    unknown = set(changes) - set(EDITABLE_FIELDS)
    if unknown:
        raise PartnerError(f"These fields cannot be changed here: {', '.join(sorted(unknown))}.")
    cleaned = clean_client_fields(changes)
    with transaction.atomic():
        locked = Client.objects.select_for_update().get(pk=client.pk)
        if "external_id" in cleaned:
            _check_external_id_free(locked.partner, cleaned["external_id"], locked.pk)
        _check_dates(cleaned.get("started_on", locked.started_on), locked.ended_on)
        changed = {k: v for k, v in cleaned.items() if getattr(locked, k) != v}
        if changed:
            audited_update(locked, actor=actor, action="client.updated", changes=changed)
    return locked


def client_change_status(
    *,
    client: Client,
    to_status: str,
    actor: Actor,
    ended_on: datetime.date | None = None,
) -> Client:
    """Trial ↔ active ↔ nfr ↔ suspended freely; churned needs the end date and is final
    (a returning client is created anew, so its history stays clean)."""
    clean_client_fields({"status": to_status, "ended_on": ended_on})
    with transaction.atomic():
        locked = Client.objects.select_for_update().get(pk=client.pk)
        if locked.status == ClientStatus.CHURNED:
            raise PartnerError(f"{locked.name} has churned; create it again if it returns.")
        if locked.status == to_status:
            raise PartnerError(f"{locked.name} is already {locked.get_status_display().lower()}.")
        changes: dict[str, Any] = {"status": to_status}
        if to_status == ClientStatus.CHURNED:
            ended_on = ended_on or today_for_vendor()
            _check_dates(locked.started_on, ended_on)
            changes["ended_on"] = ended_on
        audited_update(locked, actor=actor, action=f"client.{to_status}", changes=changes)
    return locked
