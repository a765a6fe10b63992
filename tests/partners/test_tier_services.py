"""Program structure and tier services: validation (nothing saved on bad input), contiguous
ranks, tiers in use, evaluation (one partner and all of them), pins, audit rows, the task and
its beat entry."""

from __future__ import annotations

from decimal import Decimal

import pytest
from celery.schedules import crontab
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import schema_context

from core.actors import Actor
from core.models import AuditEntry
from msp_program.beat_schedule import BEAT_SCHEDULE
from partners import requirements
from partners.enums import PartnerStatus, TierChangeKind
from partners.errors import PartnerError
from partners.models import Program, Tier, TierChange, Track
from partners.services.programs import (
    program_create,
    program_update,
    track_create,
    track_update,
)
from partners.services.tiers import (
    tier_create,
    tier_delete,
    tier_evaluate,
    tier_move,
    tier_pin,
    tier_unpin,
    tier_update,
    tiers_evaluate_all,
)
from partners.tasks import evaluate_tiers
from tests.factories import ClientFactory, PartnerFactory, TrackFactory

from .program_fixtures import ladder

pytestmark = pytest.mark.django_db
ACTOR = Actor.system("tests")


def ranks(track) -> list[tuple[str, int]]:
    return list(Tier.objects.filter(track=track).order_by("rank").values_list("name", "rank"))


# ---- programs and tracks ---------------------------------------------------------------------


def test_program_and_track_create_update_are_validated_and_audited(vendor_a):
    with schema_context(vendor_a.schema):
        program = program_create(name="  MSP Program ", description="For MSPs", actor=ACTOR)
        assert (program.name, program.description) == ("MSP Program", "For MSPs")
        with pytest.raises(PartnerError, match="A name is required") as exc:
            program_create(name="  ", actor=ACTOR)
        assert exc.value.field == "name"

        first = track_create(program=program, name="Managed Services", slug="MSP", actor=ACTOR)
        second = track_create(program=program, name="Security", slug="security", actor=ACTOR)
        assert (first.slug, first.position, second.position) == ("msp", 0, 1)
        with pytest.raises(PartnerError, match="Another track already uses the slug “msp”"):
            track_create(program=program, name="Other", slug="msp", actor=ACTOR)
        with pytest.raises(PartnerError, match="only letters, digits") as exc:
            track_create(program=program, name="Other", slug="a b", actor=ACTOR)
        assert exc.value.field == "slug"
        with pytest.raises(PartnerError, match="between 0 and 32767"):
            track_update(track=first, position=-1, actor=ACTOR)
        with pytest.raises(PartnerError, match="cannot be changed here: program"):
            track_update(track=first, program=program, actor=ACTOR)
        assert Track.objects.count() == 2

        track_update(track=first, accepts_applications=False, name="MS", actor=ACTOR)
        program_update(program=program, name="MSP Program 2026", actor=ACTOR)
        first.refresh_from_db()
        assert (first.name, first.accepts_applications) == ("MS", False)
        assert Program.objects.get().name == "MSP Program 2026"
        entries = list(AuditEntry.objects.order_by("id").values_list("action", "after"))
        assert [a for a, _ in entries] == [
            "program.created",
            "track.created",
            "track.created",
            "track.updated",
            "program.updated",
        ]
        assert entries[3][1] == {"name": "MS", "accepts_applications": False}


# ---- tiers -----------------------------------------------------------------------------------


def test_tiers_are_appended_or_inserted_and_ranks_stay_contiguous(vendor_a):
    with schema_context(vendor_a.schema):
        track = TrackFactory()
        tier_create(track=track, name="Silver", actor=ACTOR)
        tier_create(track=track, name="Gold", actor=ACTOR)
        tier_create(track=track, name="Registered", rank=1, actor=ACTOR)
        tier_create(track=track, name="Platinum", actor=ACTOR)
        assert ranks(track) == [("Registered", 1), ("Silver", 2), ("Gold", 3), ("Platinum", 4)]
        with pytest.raises(PartnerError, match="The rank is between 1 and 5"):
            tier_create(track=track, name="Diamond", rank=7, actor=ACTOR)

        platinum = Tier.objects.get(name="Platinum")
        tier_move(tier=platinum, to_rank=1, actor=ACTOR)
        assert ranks(track) == [("Platinum", 1), ("Registered", 2), ("Silver", 3), ("Gold", 4)]
        tier_move(tier=Tier.objects.get(name="Platinum"), to_rank=4, actor=ACTOR)
        assert ranks(track) == [("Registered", 1), ("Silver", 2), ("Gold", 3), ("Platinum", 4)]
        tier_move(tier=Tier.objects.get(name="Silver"), to_rank=3, actor=ACTOR)
        assert ranks(track) == [("Registered", 1), ("Gold", 2), ("Silver", 3), ("Platinum", 4)]
        with pytest.raises(PartnerError, match="The rank is between 1 and 4"):
            tier_move(tier=platinum, to_rank=0, actor=ACTOR)
        moved = AuditEntry.objects.filter(action="tier.moved").order_by("id")
        assert [(e.object_repr, e.before, e.after) for e in moved] == [
            (f"{track.name} · Platinum", {"rank": 4}, {"rank": 1}),
            (f"{track.name} · Platinum", {"rank": 1}, {"rank": 4}),
            (f"{track.name} · Silver", {"rank": 2}, {"rank": 3}),
        ]


@pytest.mark.parametrize(
    "fields,field,message",
    [
        ({"wholesale_discount_pct": "100.01"}, "wholesale_discount_pct", "between 0 and 100"),
        ({"commission_rate_pct": "-1"}, "commission_rate_pct", "between 0 and 100"),
        ({"commission_rate_pct": "5.125"}, "commission_rate_pct", "at most two decimals"),
        ({"min_mrr": "-5"}, "min_mrr", "cannot be negative"),
        ({"min_mrr": "lots"}, "min_mrr", "is a number"),
        ({"min_active_clients": -1}, "min_active_clients", "cannot be negative"),
        ({"min_certified_technicians": "two"}, "min_certified_technicians", "whole number"),
        ({"support_sla": "gold"}, "support_sla", "standard, priority, premium, enterprise"),
        ({"name": "silver"}, "name", "already has a tier called “silver”"),
        ({"name": ""}, "name", "A tier needs a name"),
    ],
)
def test_bad_tier_input_is_refused_and_nothing_is_saved(vendor_a, fields, field, message):
    with schema_context(vendor_a.schema):
        track = TrackFactory()
        tier_create(track=track, name="Silver", actor=ACTOR)
        before = list(Tier.objects.values())
        audits = AuditEntry.objects.count()
        with pytest.raises(PartnerError, match=message) as exc:
            tier_create(track=track, **{"name": "Gold", **fields}, actor=ACTOR)
        assert exc.value.field == field
        silver = Tier.objects.get()
        if "name" not in fields or fields["name"] != "silver":
            with pytest.raises(PartnerError, match=message):
                tier_update(tier=silver, **fields, actor=ACTOR)
        assert list(Tier.objects.values()) == before
        assert AuditEntry.objects.count() == audits


def test_tier_update_saves_and_audits_only_what_changed(vendor_a):
    with schema_context(vendor_a.schema):
        tier = tier_create(track=TrackFactory(), name="Gold", actor=ACTOR)
        tier_update(
            tier=tier,
            name="Gold",
            commission_rate_pct="8.5",
            growth_bonus_eligible=True,
            actor=ACTOR,
        )
        tier.refresh_from_db()
        assert (tier.commission_rate_pct, tier.growth_bonus_eligible) == (Decimal("8.50"), True)
        entry = AuditEntry.objects.filter(action="tier.updated").get()
        assert entry.before == {"commission_rate_pct": "0.00", "growth_bonus_eligible": False}
        assert entry.after == {"commission_rate_pct": "8.50", "growth_bonus_eligible": True}


def test_a_tier_in_use_or_in_history_cannot_be_deleted_and_deleting_closes_the_gap(vendor_a):
    with schema_context(vendor_a.schema):
        track = TrackFactory()
        tiers = ladder(track)
        PartnerFactory.create_batch(2, track=track, tier=tiers["silver"])
        with pytest.raises(PartnerError) as exc:
            tier_delete(tier=tiers["silver"], actor=ACTOR)
        assert str(exc.value) == (
            "2 partners are on Silver, so it cannot be deleted. Move them to another tier first."
        )
        partner = PartnerFactory(track=track, tier=tiers["gold"])
        with pytest.raises(PartnerError, match=r"^1 partner is on Gold"):
            tier_delete(tier=tiers["gold"], actor=ACTOR)
        tier_pin(partner=partner, tier=tiers["silver"], reason="Key account", actor=ACTOR)
        with pytest.raises(PartnerError) as exc:
            tier_delete(tier=tiers["gold"], actor=ACTOR)
        assert str(exc.value) == (
            "Gold appears in partners' tier history, so it cannot be deleted."
        )
        assert ranks(track) == [("Registered", 1), ("Silver", 2), ("Gold", 3)]

        tier_delete(tier=tiers["registered"], actor=ACTOR)
        assert ranks(track) == [("Silver", 1), ("Gold", 2)]
        entry = AuditEntry.objects.filter(action="tier.deleted").get()
        assert entry.before["name"] == "Registered"


# ---- evaluation ------------------------------------------------------------------------------


@pytest.fixture
def mrr(monkeypatch):
    """Register an MRR provider (billing's job later) fed from a dict the test fills."""
    values: dict[int, Decimal] = {}
    monkeypatch.setitem(requirements._providers, "mrr", lambda ids: values)
    return values


def test_tier_evaluate_moves_the_partner_and_records_why(vendor_a, mrr):
    with schema_context(vendor_a.schema):
        track = TrackFactory()
        tiers = ladder(track)
        partner = PartnerFactory(track=track, tier=tiers["registered"])
        ClientFactory.create_batch(4, partner=partner)
        ClientFactory(partner=partner, status="churned")
        change = tier_evaluate(partner=partner, actor=ACTOR)
        assert (change.from_tier, change.to_tier, change.kind) == (
            tiers["registered"],
            tiers["silver"],
            TierChangeKind.EVALUATION,
        )
        assert change.reason == (
            "Meets Silver: 4 active clients (minimum 3), agreement accepted. "
            "Gold needs €5,000.00 more MRR, 6 more active clients, 1 more certified technician."
        )
        assert change.measurements == {
            "mrr": "0",
            "currency": "EUR",
            "active_clients": 4,
            "certified_technicians": 0,
            "agreement_accepted": True,  # the track has no agreement: nothing to accept
        }
        assert change.actor_label == "tests"
        partner.refresh_from_db()
        assert partner.tier == tiers["silver"]
        entry = AuditEntry.objects.filter(action="partner.tier_evaluated").get()
        assert (entry.before, entry.after) == (
            {"tier_id": tiers["registered"].pk},
            {"tier_id": tiers["silver"].pk},
        )
        # Same numbers, same tier: nothing more is written.
        assert tier_evaluate(partner=partner, actor=ACTOR) is None
        assert TierChange.objects.count() == 1


def test_evaluation_can_drop_a_partner_to_no_tier(vendor_a):
    with schema_context(vendor_a.schema):
        from partners.models import AgreementVersion

        track = TrackFactory()
        tiers = ladder(track)
        AgreementVersion.objects.create(
            track=track,
            version=1,
            title="T",
            body_markdown="x",
            content_hash="h",
            created_by_label="tests",
        )
        partner = PartnerFactory(track=track, tier=tiers["registered"])
        change = tier_evaluate(partner=partner, actor=ACTOR)
        assert change.to_tier is None
        assert change.reason == "Meets no tier. Registered needs accept the current agreement."


def test_evaluate_all_measures_in_a_constant_number_of_queries(vendor_a, mrr):
    with schema_context(vendor_a.schema):
        track = TrackFactory()
        tiers = ladder(track)

        def add_partners(n: int) -> None:
            for _ in range(n):
                partner = PartnerFactory(track=track, tier=tiers["silver"])
                ClientFactory.create_batch(3, partner=partner)

        def run_queries() -> int:
            with CaptureQueriesContext(connection) as queries:
                run = tiers_evaluate_all(actor=ACTOR)
            assert run.changed == 0
            return len(queries)

        add_partners(2)
        baseline = run_queries()
        add_partners(6)
        assert run_queries() == baseline
        assert TierChange.objects.count() == 0


def test_evaluate_all_changes_only_onboarding_and_active_unpinned_partners(vendor_a, mrr):
    with schema_context(vendor_a.schema):
        track = TrackFactory()
        tiers = ladder(track)
        gold_ready = PartnerFactory(track=track, tier=tiers["registered"], name="A gold")
        ClientFactory.create_batch(10, partner=gold_ready)
        mrr[gold_ready.pk] = Decimal("5000.00")
        from partners.models import Partner

        requirements._providers["certified_technicians"] = lambda ids: {gold_ready.pk: 1}
        try:
            onboarding = PartnerFactory(
                track=track, tier=tiers["registered"], status=PartnerStatus.ONBOARDING
            )
            ClientFactory.create_batch(3, partner=onboarding)
            suspended = PartnerFactory(
                track=track, tier=tiers["registered"], status=PartnerStatus.SUSPENDED
            )
            ClientFactory.create_batch(3, partner=suspended)
            pinned = PartnerFactory(track=track, tier=tiers["registered"])
            tier_pin(partner=pinned, tier=tiers["registered"], reason="Probation", actor=ACTOR)
            ClientFactory.create_batch(3, partner=pinned)
            stays = PartnerFactory(track=track, tier=tiers["registered"])

            run = tiers_evaluate_all(actor=ACTOR)
            assert (run.evaluated, run.changed) == (3, 2)
            tier_of = dict(Partner.objects.values_list("name", "tier__name"))
            assert tier_of[gold_ready.name] == "Gold"
            assert tier_of[onboarding.name] == "Silver"
            assert tier_of[suspended.name] == "Registered"
            assert tier_of[pinned.name] == "Registered"
            assert tier_of[stays.name] == "Registered"
            # A second run on the same numbers changes nothing (the task is idempotent).
            assert tiers_evaluate_all(actor=ACTOR).changed == 0
            assert TierChange.objects.filter(kind=TierChangeKind.EVALUATION).count() == 2
        finally:
            requirements._providers.pop("certified_technicians", None)


def test_pin_needs_a_reason_and_a_tier_of_the_track_and_evaluation_leaves_it(vendor_a):
    with schema_context(vendor_a.schema):
        track = TrackFactory()
        tiers = ladder(track)
        other_track_tier = ladder(TrackFactory())["gold"]
        partner = PartnerFactory(track=track, tier=tiers["registered"])
        ClientFactory.create_batch(3, partner=partner)
        with pytest.raises(PartnerError, match="Say why") as exc:
            tier_pin(partner=partner, tier=tiers["gold"], reason="  ", actor=ACTOR)
        assert exc.value.field == "reason"
        with pytest.raises(PartnerError, match="is a tier of another track") as exc:
            tier_pin(partner=partner, tier=other_track_tier, reason="Deal", actor=ACTOR)
        assert exc.value.field == "tier"
        assert TierChange.objects.count() == 0

        change = tier_pin(partner=partner, tier=tiers["gold"], reason="Strategic", actor=ACTOR)
        assert (change.kind, change.from_tier, change.to_tier, change.reason) == (
            "pinned",
            tiers["registered"],
            tiers["gold"],
            "Strategic",
        )
        assert change.measurements["active_clients"] == 3
        partner.refresh_from_db()
        assert (partner.tier, partner.tier_pinned, partner.tier_pin_reason) == (
            tiers["gold"],
            True,
            "Strategic",
        )
        with pytest.raises(PartnerError, match="already pinned at Gold"):
            tier_pin(partner=partner, tier=tiers["gold"], reason="Again", actor=ACTOR)
        assert tier_evaluate(partner=partner, actor=ACTOR) is None
        assert tiers_evaluate_all(actor=ACTOR).evaluated == 0

        unpinned = tier_unpin(partner=partner, actor=ACTOR)
        assert (unpinned.kind, unpinned.reason) == ("unpinned", "Pin removed (it was: Strategic)")
        partner.refresh_from_db()
        # Unpinning evaluates at once: 3 active clients is Silver.
        assert (partner.tier, partner.tier_pinned, partner.tier_pin_reason) == (
            tiers["silver"],
            False,
            "",
        )
        assert list(TierChange.objects.order_by("id").values_list("kind", "to_tier__name")) == [
            ("pinned", "Gold"),
            ("unpinned", "Gold"),
            ("evaluation", "Silver"),
        ]
        with pytest.raises(PartnerError, match="is not pinned"):
            tier_unpin(partner=partner, actor=ACTOR)
        assert list(
            AuditEntry.objects.filter(action__startswith="partner.tier")
            .order_by("id")
            .values_list("action", flat=True)
        ) == ["partner.tier_pinned", "partner.tier_unpinned", "partner.tier_evaluated"]


def test_the_task_evaluates_and_beat_runs_it_monthly_through_the_fan_out(vendor_a):
    with schema_context(vendor_a.schema):
        track = TrackFactory()
        tiers = ladder(track)
        partner = PartnerFactory(track=track, tier=tiers["registered"])
        ClientFactory.create_batch(3, partner=partner)
        assert evaluate_tiers.run() == {"evaluated": 1, "changed": 1}
        assert evaluate_tiers.run() == {"evaluated": 1, "changed": 0}
        assert TierChange.objects.get().actor_label == "tier evaluation"
    assert evaluate_tiers.acks_late is True
    entry = BEAT_SCHEDULE["evaluate-tiers"]
    assert entry["task"] == "tenancy.tasks.fan_out_to_vendors"
    assert entry["args"] == ("partners.tasks.evaluate_tiers",)
    assert entry["schedule"] == crontab(minute=11, hour=2, day_of_month=1)
    reminders = BEAT_SCHEDULE["remind-agreement-reacceptance"]
    assert reminders["args"] == ("partners.tasks.remind_agreement_reacceptance",)
    assert reminders["schedule"] == crontab(minute=7, hour=8)
