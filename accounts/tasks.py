"""Celery tasks of the accounts app; each runs in one vendor's schema (tenant-schemas-celery)."""

from celery import shared_task

from core.actors import Actor

from .services.invitations import invitations_expire_stale


@shared_task(name="accounts.tasks.expire_stale_invitations")
def expire_stale_invitations() -> int:
    """Close long-expired invitations in the current vendor's schema; idempotent."""
    return invitations_expire_stale(actor=Actor.system("invitation expiry"))
