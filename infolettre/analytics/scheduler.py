"""Enqueue each periodic task of settings.PERIODIC_TASKS once a day, when its local time has come.

A task may be enqueued twice (two schedulers, a restart after its time): each is safe to run twice.
"""

import datetime
import logging
import threading

from django.conf import settings
from django.utils import timezone
from django.utils.module_loading import import_string

from .report import local_zone

logger = logging.getLogger(__name__)

TICK_SECONDS = 30


def parse_time(value):
    """'07:00' -> time(7, 0); ValueError on anything else."""
    hours, _, minutes = value.partition(":")
    return datetime.time(int(hours), int(minutes))


def due_tasks(periodic_tasks, last_enqueued, now):
    """The dotted paths whose local time has come today and that were not yet enqueued today.

    `last_enqueued` maps a path to the local date it was last enqueued on.
    """
    local = now.astimezone(local_zone())
    return [
        path
        for path, at in periodic_tasks
        if local.time() >= parse_time(at) and last_enqueued.get(path) != local.date()
    ]


class Scheduler:
    def __init__(self, periodic_tasks=None, clock=timezone.now):
        self.periodic_tasks = (
            settings.PERIODIC_TASKS if periodic_tasks is None else list(periodic_tasks)
        )
        for _path, at in self.periodic_tasks:
            parse_time(at)  # refuse a wrong time at start, not at 7 in the morning
        self.clock = clock
        self.last_enqueued = {}
        self.stopping = threading.Event()

    def tick(self):
        """Enqueue what is due now; return the paths enqueued."""
        now = self.clock()
        enqueued = []
        for path in due_tasks(self.periodic_tasks, self.last_enqueued, now):
            try:
                import_string(path).enqueue()
            except Exception:
                # Retried at the next tick; the other tasks still run.
                logger.exception("Periodic task %s could not be enqueued", path)
                continue
            self.last_enqueued[path] = now.astimezone(local_zone()).date()
            enqueued.append(path)
            logger.info("Periodic task %s enqueued", path)
        return enqueued

    def run(self, tick_seconds=TICK_SECONDS):
        while not self.stopping.is_set():
            self.tick()
            self.stopping.wait(tick_seconds)

    def stop(self, *args):
        self.stopping.set()
