"""The Celery app: tenant-aware, so a task runs in the schema of the vendor that dispatched it."""

import os

from celery.signals import setup_logging
from tenant_schemas_celery.app import CeleryApp as TenantAwareCeleryApp

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "msp_program.settings.dev")

app = TenantAwareCeleryApp("msp_program")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# Task modules not named tasks.py.
app.autodiscover_tasks(["partners"], related_name="tasks_onboarding")
app.autodiscover_tasks(["billing"], related_name="tasks_usage")


@setup_logging.connect
def _use_django_logging(**kwargs) -> None:
    """Workers and beat log through settings.LOGGING (JSON lines), not Celery's own format."""
    from logging.config import dictConfig

    from django.conf import settings

    dictConfig(settings.LOGGING)


def _beat_schedule() -> dict:
    from .beat_schedule import BEAT_SCHEDULE

    return BEAT_SCHEDULE


app.conf.beat_schedule = _beat_schedule()
