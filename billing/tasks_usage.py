"""Celery tasks of usage imports; each runs in the schema of the vendor that queued it."""

from celery import shared_task

from billing.models_invoicing import UsageImport
from billing.services.usage_imports import usage_import_run


@shared_task(name="billing.import_usage", acks_late=True)
def import_usage(import_id: int) -> dict | None:
    """Import a queued usage CSV in committed batches. Idempotent (a redelivered or repeated run
    resumes after the last committed batch, or stops when another run is ahead), hence acked
    late: a worker killed half-way gets the task back and finishes the import."""
    usage_import = UsageImport.objects.filter(pk=import_id).first()
    if usage_import is None:
        return None
    usage_import = usage_import_run(usage_import=usage_import)
    return {
        "status": usage_import.status,
        "processed_rows": usage_import.processed_rows,
        "accepted": usage_import.accepted,
        "duplicates": usage_import.duplicates,
        "rejected": usage_import.rejected,
    }
