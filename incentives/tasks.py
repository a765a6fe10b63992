"""Celery tasks of incentives; each runs in its vendor's schema (tenant-schemas-celery), loads by
id and calls a service. The payout job is idempotent by construction (a state machine in the
database, see incentives.services.payouts), so it is acknowledged late."""

from celery import shared_task

from incentives.services.payouts import payout_execute, payouts_to_resume


@shared_task(name="incentives.tasks.execute_payout", acks_late=True)
def execute_payout(payout_id: int) -> str:
    return payout_execute(payout_id=payout_id).status


@shared_task(name="incentives.tasks.resume_payouts", acks_late=True)
def resume_payouts() -> list[int]:
    """Beat (per vendor): re-run payouts left pending or sending by an interrupted run."""
    ids = payouts_to_resume()
    for payout_id in ids:
        execute_payout.delay(payout_id)
    return ids


@shared_task(name="incentives.tasks.accrue_period", acks_late=True)
def accrue_period(period_id: int) -> int:
    """After a period is finalized: its commission and bonuses (exactly once by source key, so
    acknowledged late: a worker killed half-way gets it redelivered and the re-run completes it)."""
    from incentives.services.accrual import period_accrue

    return period_accrue(period_id=period_id)
