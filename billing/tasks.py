"""Celery tasks of the month-end close; each runs in its vendor's schema (tenant-schemas-celery)
and calls a service. All are idempotent by construction (see billing.services.periods), so they
are acknowledged late: a worker killed half-way gets the task redelivered."""

from celery import shared_task

from billing.closing.rate import Catalog
from billing.services.periods import period_rate_chunk, periods_close_due

# One catalog per worker process and run of chunks would go stale when prices change; a chunk
# loads it afresh (a few queries) — cheap next to rating 50 partners.


@shared_task(name="billing.tasks.rate_chunk", acks_late=True)
def rate_chunk(chunk_id: int) -> str:
    return period_rate_chunk(chunk_id=chunk_id, catalog=Catalog())


@shared_task(name="billing.tasks.close_due_periods", acks_late=True)
def close_due_periods() -> list[str]:
    """Hourly (beat): last month's close starts on the 1st in the vendor's timezone."""
    return periods_close_due()
