"""Periodic jobs. Each entry runs once in the public schema and fans out one task per active vendor
(see `tenancy.tasks.fan_out_to_vendors`), so every vendor's job runs in that vendor's schema."""

from celery.schedules import crontab

BEAT_SCHEDULE = {
    "purge-expired-idempotency-records": {
        "task": "tenancy.tasks.fan_out_to_vendors",
        "schedule": crontab(minute=17),
        "args": ("core.tasks.purge_expired_idempotency_records",),
    },
    "expire-stale-invitations": {
        "task": "tenancy.tasks.fan_out_to_vendors",
        "schedule": crontab(minute=23),
        "args": ("accounts.tasks.expire_stale_invitations",),
    },
    "refresh-onboarding": {
        "task": "tenancy.tasks.fan_out_to_vendors",
        "schedule": crontab(minute=41, hour=3),
        "args": ("partners.tasks_onboarding.refresh_onboarding",),
    },
    "evaluate-tiers": {
        # Monthly, on the 1st (UTC; before the working day starts in most vendors' zones).
        "task": "tenancy.tasks.fan_out_to_vendors",
        "schedule": crontab(minute=11, hour=2, day_of_month=1),
        "args": ("partners.tasks.evaluate_tiers",),
    },
    "close-billing-periods": {
        # Hourly, so that each vendor's close starts within the hour after midnight of the 1st
        # in its own timezone (the task does nothing on other days).
        "task": "tenancy.tasks.fan_out_to_vendors",
        "schedule": crontab(minute=5),
        "args": ("billing.tasks.close_due_periods",),
    },
    "resume-payouts": {
        # Commission payouts left pending or sending by an interrupted run (exactly once: the
        # job finds a transfer already sent by its transfer group).
        "task": "tenancy.tasks.fan_out_to_vendors",
        "schedule": crontab(minute="*/15"),
        "args": ("incentives.tasks.resume_payouts",),
    },
    "send-due-webhook-deliveries": {
        # Every minute: webhook retries that are due, and deliveries whose task was lost or whose
        # worker died mid-send (an attempt is claimed under a row lock, so none is sent twice).
        "task": "tenancy.tasks.fan_out_to_vendors",
        "schedule": crontab(),
        "args": ("webhooks.tasks.send_due_deliveries",),
    },
    "purge-old-webhook-events": {
        "task": "tenancy.tasks.fan_out_to_vendors",
        "schedule": crontab(minute=53, hour=4),
        "args": ("webhooks.tasks.purge_old_events",),
    },
    "remind-agreement-reacceptance": {
        "task": "tenancy.tasks.fan_out_to_vendors",
        "schedule": crontab(minute=7, hour=8),
        "args": ("partners.tasks.remind_agreement_reacceptance",),
    },
    "resume-pending-charges": {
        # Charges whose task was lost or gave up while Stripe was unreachable (exactly once: the
        # re-run finds a PaymentIntent an earlier run created by its metadata).
        "task": "tenancy.tasks.fan_out_to_vendors",
        "schedule": crontab(minute="*/15"),
        "args": ("payments.tasks.resume_pending_charges",),
    },
    "retry-failed-payments": {
        # Daily dunning retries (PAYMENT_DUNNING_DAYS after the first failure), in the morning UTC.
        "task": "tenancy.tasks.fan_out_to_vendors",
        "schedule": crontab(minute=31, hour=6),
        "args": ("payments.tasks.retry_failed_payments",),
    },
}
