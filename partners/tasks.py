"""Celery tasks of the partner program; each runs in one vendor's schema (tenant-schemas-celery).

They call a service and nothing else. All three are idempotent — evaluating again on the same
numbers changes nothing, and each agreement email is recorded under a unique constraint before
it is sent — so they are acknowledged late: a worker killed half-way gets the task redelivered
and finishes the job.
"""

from celery import shared_task

from core.actors import Actor

from .services.agreements import agreement_notices_send
from .services.tiers import tiers_evaluate_all


@shared_task(name="partners.tasks.evaluate_tiers", acks_late=True)
def evaluate_tiers() -> dict:
    """Monthly (beat, on the 1st) and on demand: every onboarding/active partner's tier."""
    run = tiers_evaluate_all(actor=Actor.system("tier evaluation"))
    return {"evaluated": run.evaluated, "changed": run.changed}


@shared_task(name="partners.tasks.remind_agreement_reacceptance", acks_late=True)
def remind_agreement_reacceptance() -> int:
    """Daily (beat): announcements not yet sent, and reminders 7 days and 1 day before the
    re-acceptance deadline."""
    return agreement_notices_send(actor=Actor.system("agreement reminders"))


@shared_task(name="partners.tasks.send_agreement_notices", acks_late=True)
def send_agreement_notices() -> int:
    """Right after a new version is published: the same job, so nobody is emailed twice."""
    return agreement_notices_send(actor=Actor.system("agreement notices"))
