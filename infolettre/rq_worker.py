"""The RQ worker of TASKS_ON_REDIS (settings.RQ["WORKER_CLASS"]): RQ's own, with a shorter watch."""

from django.conf import settings
from rq.worker import Worker as RQWorker


class Worker(RQWorker):
    """Check every RQ_MAINTENANCE_SECONDS (not RQ's 10 minutes) that the scheduler runs.

    The scheduler of deferred tasks (a campaign's next lane, a webhook retry, a scheduled launch)
    is a process of one worker; it dies when Redis goes away, and a worker starts another only at
    its maintenance. An idle worker also waits for tasks in turns no longer than that period, so
    that the check happens while the queue is empty.
    """

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("maintenance_interval", settings.RQ_MAINTENANCE_SECONDS)
        super().__init__(*args, **kwargs)

    @property
    def dequeue_timeout(self):
        return max(1, min(self.worker_ttl - 15, int(self.maintenance_interval)))
