"""Enqueue each periodic task of settings.PERIODIC_TASKS once a day, when its local time has come,
or every so many seconds.

A task's schedule is "HH:MM" (local time, once a day) or "every Ns" (N seconds apart, the first at
the scheduler's start). A task may be enqueued twice (two schedulers, a restart after its time):
each is safe to run twice.
"""

import datetime
import logging
import re
import threading

from django.conf import settings
from django.utils import timezone
from django.utils.module_loading import import_string

from .report import local_zone

logger = logging.getLogger(__name__)

TICK_SECONDS = 30
_INTERVAL = re.compile(r"every (\d+)s")


def parse_time(value):
    """'07:00' -> time(7, 0); ValueError on anything else."""
    hours, _, minutes = value.partition(":")
    return datetime.time(int(hours), int(minutes))


def parse_interval(value):
    """'every 60s' -> timedelta(seconds=60); None for a daily 'HH:MM'; ValueError on anything else."""
    match = _INTERVAL.fullmatch(value)
    if match is None:
        parse_time(value)
        return None
    if int(match[1]) < 1:
        raise ValueError(value)
    return datetime.timedelta(seconds=int(match[1]))


def _due(at, last, now, local):
    interval = parse_interval(at)
    if interval is not None:
        return last is None or now - last >= interval
    return local.time() >= parse_time(at) and last != local.date()


def due_tasks(periodic_tasks, last_enqueued, now):
    """The dotted paths that are due: a daily task whose local time has come today and that was not
    yet enqueued today, an interval task whose interval has passed since it was last enqueued.

    `last_enqueued` maps a path to the local date (daily) or the time (interval) it was last
    enqueued on.
    """
    local = now.astimezone(local_zone())
    return [path for path, at in periodic_tasks if _due(at, last_enqueued.get(path), now, local)]


class Scheduler:
    def __init__(self, periodic_tasks=None, clock=timezone.now):
        self.periodic_tasks = (
            settings.PERIODIC_TASKS if periodic_tasks is None else list(periodic_tasks)
        )
        for _path, at in self.periodic_tasks:
            parse_interval(at)  # refuse a wrong time at start, not at 7 in the morning
        self.clock = clock
        self.last_enqueued = {}
        self.stopping = threading.Event()

    def tick(self):
        """Enqueue what is due now; return the paths enqueued."""
        now = self.clock()
        enqueued = []
        schedules = dict(self.periodic_tasks)
        for path in due_tasks(self.periodic_tasks, self.last_enqueued, now):
            try:
                import_string(path).enqueue()
            except Exception:
                # Retried at the next tick; the other tasks still run.
                logger.exception("Periodic task %s could not be enqueued", path)
                continue
            daily = parse_interval(schedules[path]) is None
            self.last_enqueued[path] = now.astimezone(local_zone()).date() if daily else now
            enqueued.append(path)
            logger.info("Periodic task %s enqueued", path)
        return enqueued

    def run(self, tick_seconds=TICK_SECONDS):
        # An interval shorter than the tick would otherwise be stretched to it.
        intervals = [parse_interval(at) for _path, at in self.periodic_tasks]
        wait = min([tick_seconds, *(i.total_seconds() for i in intervals if i is not None)])
        while not self.stopping.is_set():
            self.tick()
            self.stopping.wait(wait)

    def stop(self, *args):
        self.stopping.set()
