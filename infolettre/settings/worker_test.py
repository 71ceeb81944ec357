"""A real task worker started by the tests, on the test database (DATABASE_URL names it)."""

from .base import REDIS_URL, env
from .test import *  # noqa: F403

TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}
if REDIS_URL:
    # Workers on Redis share the cache (and so the sending throttle) as in production.
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
        }
    }
    if env.bool("TASKS_ON_REDIS", default=False):
        TASKS = {"default": {"BACKEND": "django_tasks_rq.RQBackend", "QUEUES": ["default"]}}
        RQ_QUEUES = {"default": {"URL": REDIS_URL}}
        RQ = {"WORKER_CLASS": "infolettre.rq_worker.Worker"}
CAMPAIGN_TRANSPORT_URL = env.str("CAMPAIGN_TRANSPORT_URL")
CAMPAIGN_CLAIM_SECONDS = env.int("CAMPAIGN_CLAIM_SECONDS", default=2)
CAMPAIGN_BATCH_SIZE = env.int("CAMPAIGN_BATCH_SIZE", default=20)
LOGGING = {
    "version": 1,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"django.tasks": {"handlers": ["console"], "level": "INFO"}},
}
