from celery import shared_task

from core.api.idempotency import purge_expired_records


@shared_task(name="core.tasks.purge_expired_idempotency_records", acks_late=True)
def purge_expired_idempotency_records() -> int:
    # Idempotent: deleting what is already gone deletes nothing, so acks_late is safe.
    return purge_expired_records()
