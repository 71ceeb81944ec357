"""A real task worker started by the tests, on the test database (DATABASE_URL names it)."""

from .base import env
from .test import *  # noqa: F403

TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}
CAMPAIGN_TRANSPORT_URL = env.str("CAMPAIGN_TRANSPORT_URL")
CAMPAIGN_CLAIM_SECONDS = env.int("CAMPAIGN_CLAIM_SECONDS", default=2)
CAMPAIGN_BATCH_SIZE = env.int("CAMPAIGN_BATCH_SIZE", default=20)
LOGGING = {
    "version": 1,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"django.tasks": {"handlers": ["console"], "level": "INFO"}},
}
