"""A task worker started by the benchmarks, on the benchmark's database (DATABASE_URL names it)."""

from .base import env
from .bench import *  # noqa: F403

TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}
CAMPAIGN_TRANSPORT_URL = env.str("CAMPAIGN_TRANSPORT_URL")
