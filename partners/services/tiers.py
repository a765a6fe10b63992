"""Tiers of a track: their definition and order, and each partner's tier (evaluated or pinned).

Ranks are 1..n per track with no gaps: a new tier goes on top (or at the rank asked for, moving
the others up), moving a tier shifts the ones in between, deleting one closes the gap. The
(track, rank) unique constraint is not deferrable, so rank shuffles park the affected rows
above every real rank first and then write their final ranks.

Evaluation reads the numbers through `partners.requirements.measure` (one bulk call for every
partner of the vendor) and the pure rules in `partners.evaluation`.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.db.models import F, ProtectedError

from core.actors import Actor
from core.services.audit import audit_record, audited_update, snapshot
from partners.enums import PartnerStatus, SupportSla, TierChangeKind
from partners.errors import PartnerError
from partners.evaluation import (
    TierEvaluation,
    TierSpec,
    describe,
    evaluate,
    measurements,
)
from partners.models import Partner, Tier, TierChange, Track
from partners.requirements import PartnerMetrics, measure

TIER_FIELDS = (
    "name",
    "min_mrr",
    "min_active_clients",
    "min_certified_technicians",
    "requires_agreement",
    "wholesale_discount_pct",
    "commission_rate_pct",
    "growth_bonus_eligible",
    "support_sla",
)
EVALUATED_STATUSES = (PartnerStatus.ONBOARDING, PartnerStatus.ACTIVE)
_PARK = 10000  # above any real rank (a track has a handful of tiers; the column allows 32767)
_MAX_COUNT = 2_147_483_647
_MAX_MRR = Decimal("999999999999.99")  # max_digits=14, decimal_places=2
_LABELS = {
    "min_mrr": "The minimum MRR",
    "min_active_clients": "The minimum number of active clients",
    "min_certified_technicians": "The minimum number of certified technicians",
    "wholesale_discount_pct": "The wholesale discount",
    "commission_rate_pct": "The commission rate",
}


def _decimal(value: Any, field: str) -> Decimal:
    try:
        number = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise PartnerError(f"{_LABELS[field]} is a number, e.g. 12.50.", field=field) from None
    if not number.is_finite():
        raise PartnerError(f"{_LABELS[field]} is a number, e.g. 12.50.", field=field)
    if number != number.quantize(Decimal("0.01")):
        raise PartnerError(f"{_LABELS[field]} has at most two decimals.", field=field)
    return number.quantize(Decimal("0.01"))


def clean_tier_fields(fields: dict[str, Any]) -> dict[str, Any]:
    """Normalise and validate tier fields; raises PartnerError naming the bad field."""
    cleaned = dict(fields)
    if "name" in cleaned:
        cleaned["name"] = str(cleaned["name"] or "").strip()
        if not cleaned["name"]:
            raise PartnerError("A tier needs a name.", field="name")
        if len(cleaned["name"]) > 100:
            raise PartnerError("Tier names are at most 100 characters.", field="name")
    if "min_mrr" in cleaned:
        mrr = _decimal(cleaned["min_mrr"], "min_mrr")
        if mrr < 0:
            raise PartnerError("The minimum MRR cannot be negative.", field="min_mrr")
        if mrr > _MAX_MRR:
            raise PartnerError("The minimum MRR is too large.", field="min_mrr")
        cleaned["min_mrr"] = mrr
    for field in ("min_active_clients", "min_certified_technicians"):
        if field in cleaned:
            try:
                count = int(str(cleaned[field]).strip())
            except (TypeError, ValueError):
                raise PartnerError(f"{_LABELS[field]} is a whole number.", field=field) from None
            if not 0 <= count <= _MAX_COUNT:
                raise PartnerError(f"{_LABELS[field]} cannot be negative.", field=field)
            cleaned[field] = count
    for field in ("wholesale_discount_pct", "commission_rate_pct"):
        if field in cleaned:
            pct = _decimal(cleaned[field], field)
            if not Decimal("0") <= pct <= Decimal("100"):
                raise PartnerError(
                    f"{_LABELS[field]} is a percentage between 0 and 100.", field=field
                )
            cleaned[field] = pct
    for field in ("requires_agreement", "growth_bonus_eligible"):
        if field in cleaned:
            cleaned[field] = bool(cleaned[field])
    if "support_sla" in cleaned and cleaned["support_sla"] not in SupportSla.values:
        choices = ", ".join(label.lower() for label in SupportSla.labels)
        raise PartnerError(f"The support SLA is one of: {choices}.", field="support_sla")
    return cleaned


def _check_name_free(track_id: int, name: str, exclude_pk: int | None = None) -> None:
    taken = Tier.objects.filter(track_id=track_id, name__iexact=name)
    if exclude_pk is not None:
        taken = taken.exclude(pk=exclude_pk)
    if taken.exists():
        raise PartnerError(f"This track already has a tier called “{name}”.", field="name")


def _lock_track_tiers(track_id: int) -> list[Tier]:
    # Locking the track row serialises every rank change of its tiers.
    Track.objects.select_for_update().get(pk=track_id)
    return list(Tier.objects.select_for_update().filter(track_id=track_id).order_by("rank"))


def _write_ranks(tiers_in_order: list[Tier]) -> None:
    """Give `tiers_in_order` the ranks 1..n, touching only the rows whose rank changes."""
    moving = [t for i, t in enumerate(tiers_in_order, start=1) if t.rank != i]
    if not moving:
        return
    Tier.objects.filter(pk__in=[t.pk for t in moving]).update(rank=F("rank") + _PARK)
    final = {t.pk: i for i, t in enumerate(tiers_in_order, start=1)}
    for tier in moving:
        tier.rank = final[tier.pk]
    Tier.objects.bulk_update(moving, ["rank"])


def tier_create(*, track: Track, actor: Actor, rank: int | None = None, **fields: Any) -> Tier:
    """A new tier of `track`: on top of the ladder, or at `rank` (the tiers from there move up)."""
    unknown = set(fields) - set(TIER_FIELDS)
    if unknown:
        raise PartnerError(f"Unknown tier fields: {', '.join(sorted(unknown))}.")
    if "name" not in fields:
        raise PartnerError("A tier needs a name.", field="name")
    cleaned = clean_tier_fields(fields)
    with transaction.atomic():
        ladder = _lock_track_tiers(track.pk)
        _check_name_free(track.pk, cleaned["name"])
        top = len(ladder) + 1
        if rank is None:
            rank = top
        if not 1 <= rank <= top:
            raise PartnerError(f"The rank is between 1 and {top}.", field="rank")
        # Make room: the tiers from `rank` up move one step up (parked first, see above).
        shifted = ladder[rank - 1 :]
        if shifted:
            Tier.objects.filter(pk__in=[t.pk for t in shifted]).update(rank=F("rank") + _PARK)
            for tier in shifted:
                tier.rank += 1
            Tier.objects.bulk_update(shifted, ["rank"])
        tier = Tier.objects.create(track=track, rank=rank, **cleaned)
        audit_record(actor=actor, action="tier.created", instance=tier, after=snapshot(tier))
    return tier


def tier_update(*, tier: Tier, actor: Actor, **changes: Any) -> Tier:
    unknown = set(changes) - set(TIER_FIELDS)
    if unknown:
        raise PartnerError(f"These fields cannot be changed here: {', '.join(sorted(unknown))}.")
    cleaned = clean_tier_fields(changes)
    with transaction.atomic():
        locked = Tier.objects.select_for_update().get(pk=tier.pk)
        if "name" in cleaned:
            _check_name_free(locked.track_id, cleaned["name"], exclude_pk=locked.pk)
        changed = {k: v for k, v in cleaned.items() if getattr(locked, k) != v}
        if changed:
            audited_update(locked, actor=actor, action="tier.updated", changes=changed)
    return locked


def tier_move(*, tier: Tier, to_rank: int, actor: Actor) -> Tier:
    """Put `tier` at `to_rank`; the tiers in between shift by one to keep ranks 1..n."""
    with transaction.atomic():
        ladder = _lock_track_tiers(tier.track_id)
        current = next(t for t in ladder if t.pk == tier.pk)
        if not 1 <= to_rank <= len(ladder):
            raise PartnerError(f"The rank is between 1 and {len(ladder)}.", field="rank")
        if current.rank == to_rank:
            return current
        before = {"rank": current.rank}
        ladder.remove(current)
        ladder.insert(to_rank - 1, current)
        _write_ranks(ladder)
        audit_record(
            actor=actor,
            action="tier.moved",
            instance=current,
            before=before,
            after={"rank": current.rank},
        )
    return current


def tier_delete(*, tier: Tier, actor: Actor) -> None:
    """Delete a tier nobody is on and no history refers to; the tiers above move down."""
    with transaction.atomic():
        ladder = _lock_track_tiers(tier.track_id)
        current = next(t for t in ladder if t.pk == tier.pk)
        in_use = Partner.objects.filter(tier_id=current.pk).count()
        if in_use:
            partners = "1 partner is" if in_use == 1 else f"{in_use} partners are"
            raise PartnerError(
                f"{partners} on {current.name}, so it cannot be deleted. "
                "Move them to another tier first."
            )
        if TierChange.objects.filter(from_tier_id=current.pk).exists() or (
            TierChange.objects.filter(to_tier_id=current.pk).exists()
        ):
            raise PartnerError(
                f"{current.name} appears in partners' tier history, so it cannot be deleted."
            )
        audit_record(actor=actor, action="tier.deleted", instance=current, before=snapshot(current))
        try:
            with transaction.atomic():
                current.delete()
        except ProtectedError:
            # Rows of later areas (e.g. commission rates by tier) still point at it.
            raise PartnerError(
                f"{current.name} is still referred to elsewhere, so it cannot be deleted."
            ) from None
        ladder.remove(current)
        _write_ranks(ladder)


# ---- a partner's tier ------------------------------------------------------------------------


@dataclass(frozen=True)
class EvaluationRun:
    evaluated: int
    changed: int


def _specs_by_track(track_ids: set[int]) -> dict[int, list[TierSpec]]:
    specs: dict[int, list[TierSpec]] = defaultdict(list)
    for tier in Tier.objects.filter(track_id__in=track_ids).order_by("track_id", "rank"):
        specs[tier.track_id].append(TierSpec.from_tier(tier))
    return specs


def track_tier_specs(track_id: int) -> list[TierSpec]:
    return _specs_by_track({track_id}).get(track_id, [])


def _apply_evaluation(
    *,
    partner_id: int,
    result: TierEvaluation,
    metrics: PartnerMetrics,
    actor: Actor,
) -> TierChange | None:
    """Inside a transaction: lock the partner and record the evaluated tier if it changed."""
    locked = Partner.objects.select_for_update().get(pk=partner_id)
    new_tier_id = result.tier.id if result.tier else None
    if locked.tier_pinned or locked.tier_id == new_tier_id:
        return None
    change = TierChange.objects.create(
        partner=locked,
        from_tier_id=locked.tier_id,
        to_tier_id=new_tier_id,
        kind=TierChangeKind.EVALUATION,
        reason=describe(result, metrics, locked.currency)[:1000],
        measurements=measurements(metrics, locked.currency),
        actor_label=actor.label[:254],
    )
    audited_update(
        locked, actor=actor, action="partner.tier_evaluated", changes={"tier_id": new_tier_id}
    )
    return change


def tier_evaluate(*, partner: Partner, actor: Actor) -> TierChange | None:
    """Evaluate one partner's tier now. Pinned partners keep theirs. Returns the change written,
    or None when the tier stays (or is pinned)."""
    if partner.tier_pinned:
        return None
    metrics = measure([partner])[partner.pk]
    result = evaluate(track_tier_specs(partner.track_id), metrics, partner.currency)
    with transaction.atomic():
        return _apply_evaluation(partner_id=partner.pk, result=result, metrics=metrics, actor=actor)


def tiers_evaluate_all(*, actor: Actor) -> EvaluationRun:
    """Evaluate every onboarding or active partner that is not pinned.

    The numbers come from one bulk `measure` call and the tiers from one query, whatever the
    number of partners; only partners whose tier changes cost writes, each in its own
    transaction (a failure leaves the others done). Running it twice on the same numbers
    changes nothing the second time, so the task may be redelivered safely.
    """
    partners = list(
        Partner.objects.filter(status__in=EVALUATED_STATUSES, tier_pinned=False).only(
            "pk", "track_id", "tier_id", "currency"
        )
    )
    if not partners:
        return EvaluationRun(evaluated=0, changed=0)
    numbers = measure(partners)
    specs = _specs_by_track({p.track_id for p in partners})
    changed = 0
    for partner in partners:
        metrics = numbers[partner.pk]
        result = evaluate(specs.get(partner.track_id, []), metrics, partner.currency)
        if (result.tier.id if result.tier else None) == partner.tier_id:
            continue
        with transaction.atomic():
            if _apply_evaluation(
                partner_id=partner.pk, result=result, metrics=metrics, actor=actor
            ):
                changed += 1
    return EvaluationRun(evaluated=len(partners), changed=changed)


def tier_pin(*, partner: Partner, tier: Tier, reason: str, actor: Actor) -> TierChange:
    """Put a partner on `tier` by hand; evaluation leaves it there until unpinned."""
    reason = (reason or "").strip()
    if not reason:
        raise PartnerError("Say why the tier is pinned.", field="reason")
    if len(reason) > 500:
        raise PartnerError("The reason is at most 500 characters.", field="reason")
    if tier.track_id != partner.track_id:
        raise PartnerError(
            f"{tier.name} is a tier of another track; pick one of {partner.track.name}'s tiers.",
            field="tier",
        )
    with transaction.atomic():
        locked = Partner.objects.select_for_update().get(pk=partner.pk)
        if locked.tier_pinned and locked.tier_id == tier.pk:
            raise PartnerError(f"{locked.name} is already pinned at {tier.name}.", field="tier")
        metrics = measure([locked])[locked.pk]
        change = TierChange.objects.create(
            partner=locked,
            from_tier_id=locked.tier_id,
            to_tier=tier,
            kind=TierChangeKind.PINNED,
            reason=reason,
            measurements=measurements(metrics, locked.currency),
            actor_label=actor.label[:254],
        )
        audited_update(
            locked,
            actor=actor,
            action="partner.tier_pinned",
            changes={"tier_id": tier.pk, "tier_pinned": True, "tier_pin_reason": reason},
        )
    return change


def tier_unpin(*, partner: Partner, actor: Actor) -> TierChange:
    """Let evaluation decide the partner's tier again, and evaluate it right away."""
    with transaction.atomic():
        locked = Partner.objects.select_for_update().get(pk=partner.pk)
        if not locked.tier_pinned:
            raise PartnerError(f"{locked.name}'s tier is not pinned.")
        metrics = measure([locked])[locked.pk]
        change = TierChange.objects.create(
            partner=locked,
            from_tier_id=locked.tier_id,
            to_tier_id=locked.tier_id,
            kind=TierChangeKind.UNPINNED,
            reason=f"Pin removed (it was: {locked.tier_pin_reason})"[:1000],
            measurements=measurements(metrics, locked.currency),
            actor_label=actor.label[:254],
        )
        audited_update(
            locked,
            actor=actor,
            action="partner.tier_unpinned",
            changes={"tier_pinned": False, "tier_pin_reason": ""},
        )
        result = evaluate(track_tier_specs(locked.track_id), metrics, locked.currency)
        _apply_evaluation(partner_id=locked.pk, result=result, metrics=metrics, actor=actor)
    return change
