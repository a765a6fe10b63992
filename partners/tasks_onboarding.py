"""Celery tasks of the onboarding checklist; each runs in one vendor's schema."""

from celery import shared_task

from core.actors import Actor
from partners.services.onboarding import onboarding_refresh_all


@shared_task(name="partners.tasks_onboarding.refresh_onboarding")
def refresh_onboarding() -> int:
    """Record newly done steps of every onboarding partner and activate those that are done.
    Daily through beat (a safety net) and after checklist edits; idempotent."""
    return onboarding_refresh_all(actor=Actor.system("onboarding check"))
