"""Billing periods and the month-end close: open → rating → review → finalized.

- `period_close` starts a rating run (or a re-rating, from review; or a restart, from rating —
  after a worker died): a new run id, the partners to rate split into chunks, one Celery task per
  chunk dispatched on commit.
- `period_rate_chunk` (the task body) rates and writes one chunk in one transaction under the
  chunk's row lock, and only while the chunk's run is still the period's current run; a chunk
  already done is skipped. So a task delivered twice, or killed half-way and delivered again, or
  a whole close run again, leaves exactly the rows of one clean run. The chunk's usage is
  aggregated once; its partners are then rated and written a part (`PART_SIZE` partners) at a
  time, so memory does not grow with the chunk.
- When the last chunk of the current run is done the period moves to review.
- `period_finalize` issues gapless invoice numbers, freezes the invoices (database triggers keep
  them frozen), records each partner's MRR and settles the late-usage markers it billed.
"""

from __future__ import annotations

import datetime
import logging
import uuid
from collections.abc import Sequence

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q

from billing.closing.adjustments import adjustment_lines
from billing.closing.credits import apply_credits
from billing.closing.rate import (
    NOT_BILLED,
    Catalog,
    PeriodBounds,
    RatingInputs,
    assemble,
    next_month,
    partner_infos,
    period_bounds,
    previous_month,
    rate_lines,
    rating_inputs,
    vendor_today,
)
from billing.closing.totals import partner_mrr_record, product_totals_record
from billing.closing.write import write_drafts
from billing.errors import PeriodStateError
from billing.models import (
    BillingPeriod,
    Invoice,
    InvoiceCredit,
    LateUsage,
    RatingChunk,
    Subscription,
)
from billing.models_invoicing import InvoiceStatus, PeriodStatus
from billing.services.numbering import reserve_numbers
from core.actors import Actor
from core.events import publish
from core.services.audit import audit_record, snapshot

logger = logging.getLogger(__name__)

# A chunk is one Celery task. Its partners' usage is aggregated in a few queries, and those that
# read the events themselves (a distinct count, `latest`) read every page of the period holding
# one of its partners' events: events arrive in time order, every partner's spread over the
# whole period, so each chunk reads most of the period's pages again (about 1 s per 10 million
# events and chunk). The fewer chunks the fewer passes, yet enough of them to share out over
# the worker processes. Unless BILLING_RATING_CHUNK_SIZE says otherwise, partners are split into
# at most BILLING_RATING_MAX_CHUNKS chunks (by default the worker's process count,
# CELERY_CONCURRENCY) of at least DEFAULT_CHUNK_SIZE partners.
DEFAULT_CHUNK_SIZE = 50
DEFAULT_MAX_CHUNKS = 2
# Within a chunk, partners are rated and written this many at a time (bounded memory).
PART_SIZE = 100
# For the chunk's aggregate query (a sort or hash of the chunk's events), per chunk transaction.
DEFAULT_WORK_MEM = "64MB"
# Also per chunk transaction: no JIT. A large chunk's aggregate queries cost enough for
# PostgreSQL to JIT-compile (and optimize) them, which takes longer than it saves on queries
# that do little per row, and every chunk would compile them again.
CHUNK_JIT = "off"


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def period_bounds_of(period: BillingPeriod) -> PeriodBounds:
    return PeriodBounds(period.month, period.starts_at, period.ends_at)


def period_get_or_create(month: datetime.date) -> BillingPeriod:
    """The period of `month` (any day of it), created open with the vendor timezone's bounds."""
    bounds = period_bounds(month)
    period, _ = BillingPeriod.objects.get_or_create(
        month=bounds.month,
        defaults={"starts_at": bounds.starts_at, "ends_at": bounds.ends_at},
    )
    return period


def period_progress(period: BillingPeriod) -> int:
    """0–100: the share of the current run's partners already rated."""
    if period.status in (PeriodStatus.REVIEW, PeriodStatus.FINALIZED):
        return 100
    if period.status != PeriodStatus.RATING or period.run is None:
        return 0
    total = done = 0
    for partner_ids, done_at in RatingChunk.objects.filter(
        period=period, run=period.run
    ).values_list("partner_ids", "done_at"):
        total += len(partner_ids)
        if done_at is not None:
            done += len(partner_ids)
    return done * 100 // total if total else 0


def partners_to_rate(period: BillingPeriod) -> list[int]:
    """Partners with a billable subscription in the period, unsettled late usage of an earlier
    finalized period, or a draft invoice in the period (which a re-rating may have to remove)."""
    first = period.month
    last = period_bounds_of(period).last_day
    subscribed = (
        Subscription.objects.filter(started_on__lte=last)
        .filter(Q(ended_on__isnull=True) | Q(ended_on__gte=first))
        .exclude(client__status__in=NOT_BILLED)
        .values_list("client__partner_id", flat=True)
        .distinct()
    )
    late = LateUsage.objects.filter(
        settled_in__isnull=True, period__status=PeriodStatus.FINALIZED, period__month__lt=first
    ).values_list("partner_id", flat=True)
    drafted = Invoice.objects.filter(period=period, number__isnull=True).values_list(
        "partner_id", flat=True
    )
    return sorted(set(subscribed) | set(late) | set(drafted))


def _chunk_size(partners: int) -> int:
    configured = getattr(settings, "BILLING_RATING_CHUNK_SIZE", None)
    if configured:
        return max(1, int(configured))
    chunks = max(1, int(getattr(settings, "BILLING_RATING_MAX_CHUNKS", DEFAULT_MAX_CHUNKS)))
    return max(DEFAULT_CHUNK_SIZE, -(-partners // chunks))


def period_close(
    *, month: datetime.date, actor: Actor, now: datetime.datetime | None = None
) -> BillingPeriod:
    """Start rating the period of `month` (from open), re-rating it (from review) or restarting
    an interrupted rating (from rating). Answers at once; the chunks run on Celery."""
    now = now or _now()
    today = vendor_today(now)
    month = month.replace(day=1)
    if next_month(month) > today:
        raise PeriodStateError(
            f"{month:%B %Y} has not ended yet: it can be closed from "
            f"{next_month(month):%-d %B %Y} (in the vendor's timezone)."
        )
    with transaction.atomic():
        period_get_or_create(month)
        period = BillingPeriod.objects.select_for_update().get(month=month)
        if period.status == PeriodStatus.FINALIZED:
            raise PeriodStateError(
                f"{period.label} is finalized: its invoices are final. Late usage for it is "
                "billed as prior-period adjustments in the next open period."
            )
        before = snapshot(period)
        was = period.status
        period.status = PeriodStatus.RATING
        period.run = uuid.uuid4()
        period.run_started_at = now
        period.rated_at = None
        period.needs_rerating = False
        period.save()
        partner_ids = partners_to_rate(period)
        size = _chunk_size(len(partner_ids))
        chunks = RatingChunk.objects.bulk_create(
            RatingChunk(
                period=period, run=period.run, index=index, partner_ids=partner_ids[i : i + size]
            )
            for index, i in enumerate(range(0, len(partner_ids), size))
        )
        action = {
            PeriodStatus.OPEN: "billing_period.close_started",
            PeriodStatus.REVIEW: "billing_period.rerating_started",
            PeriodStatus.RATING: "billing_period.rating_restarted",
        }[was]
        audit_record(
            actor=actor,
            action=action,
            instance=period,
            before=before,
            after={**snapshot(period), "partners": len(partner_ids), "chunks": len(chunks)},
        )
        # Older runs' unfinished chunks are left to skip themselves; done ones stay as history
        # of the run they belonged to.
        if not chunks:
            _mark_rated(period, now)
        else:
            chunk_ids = [chunk.pk for chunk in chunks]
            transaction.on_commit(lambda: _dispatch(chunk_ids))
    return period


def _dispatch(chunk_ids: Sequence[int]) -> None:
    from billing.tasks import rate_chunk

    for chunk_id in chunk_ids:
        rate_chunk.delay(chunk_id)


def _lock_period_for_chunk(period_id: int) -> tuple[str, uuid.UUID | None] | None:
    """FOR SHARE: chunks run side by side, while a restart or finalize (FOR UPDATE) waits."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT status, run FROM {BillingPeriod._meta.db_table} WHERE id = %s FOR SHARE",
            [period_id],
        )
        row = cursor.fetchone()
    return (row[0], row[1]) if row else None


def rate_partners(
    partner_ids: Sequence[int],
    bounds: PeriodBounds,
    *,
    catalog: Catalog | None = None,
    with_adjustments: bool = True,
    client_id: int | None = None,
    inputs: RatingInputs | None = None,
):
    """The draft invoices {partner: [DraftInvoice]} of these partners for the period: its own
    usage and seats, plus prior-period adjustments for earlier finalized periods. `inputs`: the
    partners' subscriptions and aggregated usage, when already read."""
    catalog = catalog or Catalog()
    if inputs is None:
        inputs = rating_inputs(partner_ids, bounds, catalog, client_id=client_id)
    infos = partner_infos(partner_ids)
    lines = rate_lines(
        partner_ids,
        bounds,
        catalog,
        client_id=client_id,
        inputs=inputs,
        discounts={partner: info.discount_pct for partner, info in infos.items()},
    )
    if with_adjustments:
        for partner_id, extra in adjustment_lines(partner_ids, bounds.month, catalog).items():
            lines.setdefault(partner_id, []).extend(
                (line, currency)
                for line, currency in extra
                if client_id is None or line.client_id == client_id
            )
    return assemble(dict(lines), infos, catalog, client_names=inputs.client_names())


def period_rate_chunk(*, chunk_id: int, catalog: Catalog | None = None) -> str:
    """Rate and write one chunk; "done", "skipped" (already done, or of an older run) or
    "missing". Then move the period to review if this was the run's last chunk."""
    with transaction.atomic():
        chunk = RatingChunk.objects.select_for_update().filter(pk=chunk_id).first()
        if chunk is None:
            return "missing"
        if chunk.done_at is not None:
            return "skipped"
        state = _lock_period_for_chunk(chunk.period_id)
        if state is None or state[0] != PeriodStatus.RATING or state[1] != chunk.run:
            return "skipped"
        period = BillingPeriod.objects.get(pk=chunk.period_id)
        bounds = period_bounds_of(period)
        catalog = catalog or Catalog()
        work_mem = getattr(settings, "BILLING_RATING_WORK_MEM", DEFAULT_WORK_MEM)
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config('jit', %s, true)", [CHUNK_JIT])
            if work_mem:
                cursor.execute("SELECT set_config('work_mem', %s, true)", [work_mem])
        # The chunk's usage in one query; then its partners rated and written part by part.
        inputs = rating_inputs(chunk.partner_ids, bounds, catalog)
        now = _now()
        invoices = lines = 0
        for start in range(0, len(chunk.partner_ids), PART_SIZE):
            part = chunk.partner_ids[start : start + PART_SIZE]
            drafts = rate_partners(part, bounds, catalog=catalog, inputs=inputs.of(part))
            written = write_drafts(
                period_id=period.pk,
                partner_ids=part,
                drafts=[draft for partner in part for draft in drafts.get(partner, [])],
                now=now,
            )
            invoices += written[0]
            lines += written[1]
            del drafts
        chunk.done_at = now
        chunk.invoices = invoices
        chunk.lines = lines
        chunk.save(update_fields=["done_at", "invoices", "lines"])
    period_finish_rating(period_id=chunk.period_id, run=chunk.run)
    return "done"


def _mark_rated(period: BillingPeriod, now: datetime.datetime) -> None:
    before = snapshot(period)
    period.status = PeriodStatus.REVIEW
    period.rated_at = now
    period.save(update_fields=["status", "rated_at", "updated_at"])
    audit_record(
        actor=Actor.system("month-end close"),
        action="billing_period.rated",
        instance=period,
        before=before,
        after=snapshot(period),
    )


def period_finish_rating(*, period_id: int, run: uuid.UUID) -> bool:
    """Move the period to review when every chunk of `run` is done; True if it did."""
    # Without a lock first: a chunk still rating holds the period FOR SHARE until it commits, so
    # locking the period FOR UPDATE here would stall this worker until then. Called after the
    # chunk's commit, so the chunk that commits last sees every other one done.
    if RatingChunk.objects.filter(period_id=period_id, run=run, done_at__isnull=True).exists():
        return False
    with transaction.atomic():
        period = BillingPeriod.objects.select_for_update().get(pk=period_id)
        if period.status != PeriodStatus.RATING or period.run != run:
            return False
        if RatingChunk.objects.filter(period=period, run=run, done_at__isnull=True).exists():
            return False
        _mark_rated(period, _now())
    return True


def period_finalize(
    *, month: datetime.date, actor: Actor, now: datetime.datetime | None = None
) -> BillingPeriod:
    """Review → finalized: numbers (gapless, in partner-name order), invoices open, MRR recorded."""
    now = now or _now()
    with transaction.atomic():
        period = (
            BillingPeriod.objects.select_for_update().filter(month=month.replace(day=1)).first()
        )
        if period is None:
            raise PeriodStateError(f"{month:%Y-%m} has not been closed yet.")
        if period.status != PeriodStatus.REVIEW:
            raise PeriodStateError(
                f"{period.label} is {period.get_status_display().lower()}: only a period in "
                "review can be finalized."
            )
        if period.needs_rerating:
            raise PeriodStateError(
                f"Usage for {period.label} arrived after it was rated: re-rate it before "
                "finalizing."
            )
        before = snapshot(period)
        invoices = list(
            Invoice.objects.select_for_update()
            .filter(period=period)
            .order_by("bill_to_name", "partner_id", "currency")
        )
        numbers = reserve_numbers("invoice", len(invoices))
        today = vendor_today(now)
        for invoice, number in zip(invoices, numbers, strict=True):
            invoice.number = number
            invoice.status = InvoiceStatus.OPEN
            invoice.issued_on = today
            invoice.finalized_at = now
        # Credits from higher apps' providers (commission payouts), written while the
        # invoices are still drafts in the database: finalized ones are immutable.
        InvoiceCredit.objects.bulk_create(apply_credits(invoices, month=period.month))
        Invoice.objects.bulk_update(
            invoices,
            ["number", "status", "issued_on", "finalized_at", "credits", "total", "updated_at"],
        )
        # One pass over the month's lines: per-product totals (commission reads them), then MRR.
        product_totals_record(period=period)
        partner_mrr_record(period)
        # Late usage of earlier periods that this period's rating billed (markers seen again
        # after the rating began stay open for the next period).
        LateUsage.objects.filter(
            settled_in__isnull=True,
            period__status=PeriodStatus.FINALIZED,
            period__month__lt=period.month,
            last_seen_at__lt=period.run_started_at,
        ).update(settled_in=period)
        period.status = PeriodStatus.FINALIZED
        period.finalized_at = now
        period.finalized_by_label = actor.label[:254]
        period.save()
        audit_record(
            actor=actor,
            action="billing_period.finalized",
            instance=period,
            before=before,
            after={**snapshot(period), "invoices": len(invoices)},
        )
        period_get_or_create(next_month(period.month))
        # Charging (payments), commission accrual (incentives) and outbound webhooks follow.
        publish("billing_period.finalized", period_id=period.pk)
    return period


def periods_close_due(*, now: datetime.datetime | None = None) -> list[str]:
    """Beat (hourly, per vendor): from the 1st in the vendor's timezone, start closing last month
    if it is still open; make sure the current month's period exists."""
    now = now or _now()
    today = vendor_today(now)
    period_get_or_create(today)
    last_month = previous_month(today.replace(day=1))
    period = BillingPeriod.objects.filter(month=last_month).first()
    if period is not None and period.status != PeriodStatus.OPEN:
        return []
    period_close(month=last_month, actor=Actor.system("month-end close"), now=now)
    return [f"{last_month:%Y-%m}"]


def late_usage_note(
    rows: Sequence[tuple[int, datetime.datetime]], *, now: datetime.datetime
) -> None:
    """Ingest calls this with (partner_id, timestamp) of events it just wrote whose timestamps
    fall before the latest non-open period's end: periods in rating or review get re-rated before
    finalizing; finalized periods get a late-usage marker for the partner."""
    periods = list(
        BillingPeriod.objects.exclude(status=PeriodStatus.OPEN).values_list(
            "id", "status", "starts_at", "ends_at"
        )
    )
    rerate: set[int] = set()
    late: set[tuple[int, int]] = set()
    for partner_id, timestamp in rows:
        for period_id, status, starts_at, ends_at in periods:
            if starts_at <= timestamp < ends_at:
                if status == PeriodStatus.FINALIZED:
                    late.add((period_id, partner_id))
                else:
                    rerate.add(period_id)
                break
    if rerate:
        BillingPeriod.objects.filter(pk__in=rerate).exclude(status=PeriodStatus.OPEN).update(
            needs_rerating=True
        )
    if late:
        table = LateUsage._meta.db_table
        period_ids, partner_ids = zip(*sorted(late), strict=True)
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {table} (period_id, partner_id, last_seen_at) "
                "SELECT p, q, %s FROM unnest(%s::bigint[], %s::bigint[]) AS x(p, q) "
                "ON CONFLICT (period_id, partner_id) DO UPDATE "
                "SET last_seen_at = EXCLUDED.last_seen_at, settled_in_id = NULL",
                [now, list(period_ids), list(partner_ids)],
            )


def latest_closed_end() -> datetime.datetime | None:
    """The end of the latest period that is not open: events before it may be late."""
    return (
        BillingPeriod.objects.exclude(status=PeriodStatus.OPEN)
        .order_by("-ends_at")
        .values_list("ends_at", flat=True)
        .first()
    )


__all__ = [
    "late_usage_note",
    "latest_closed_end",
    "period_close",
    "period_finalize",
    "period_finish_rating",
    "period_get_or_create",
    "period_progress",
    "period_rate_chunk",
    "periods_close_due",
    "rate_partners",
]
