"""The scheduler enqueues each periodic task once a day, when its local time has come, or every so
many seconds."""

import datetime
import os
import subprocess
import sys
import threading
import time

import pytest
import time_machine
from django.tasks import task

from infolettre.analytics.models import DailyReport
from infolettre.analytics.scheduler import Scheduler, due_tasks, parse_interval, parse_time

from .helpers import DAY, add_campaign_activity, local

REPORT = "infolettre.analytics.tasks.send_daily_reports"
TASKS = [(REPORT, "07:00")]
RECORD = f"{__name__}.record_call"
REPORT_AT_NINE = f"{__name__}.record_nine"
CALLS = []
NINE = []


@task()
def record_call():
    """A periodic task of the tests: it only counts its runs."""
    CALLS.append(1)


@task()
def record_nine():
    """A daily periodic task of the tests: it only counts its runs."""
    NINE.append(1)


def test_a_task_is_not_due_before_its_local_time():
    """At 06:59 in Montréal (11:59 UTC), the 07:00 task waits."""
    assert due_tasks(TASKS, {}, local(DAY, 6, 59)) == []


def test_a_task_is_due_at_its_local_time_and_once_that_day():
    """From 07:00 the task is due until it was enqueued that day, then again the next day."""
    assert due_tasks(TASKS, {}, local(DAY, 7)) == [REPORT]
    assert due_tasks(TASKS, {REPORT: DAY}, local(DAY, 7, 1)) == []
    assert due_tasks(TASKS, {REPORT: DAY}, local(DAY, 23, 59)) == []
    next_day = DAY + datetime.timedelta(days=1)
    assert due_tasks(TASKS, {REPORT: DAY}, local(next_day, 6, 59)) == []
    assert due_tasks(TASKS, {REPORT: DAY}, local(next_day, 7)) == [REPORT]


def test_the_time_is_local_time_not_utc():
    """07:00 UTC is 02:00 in Montréal: not yet due."""
    at_seven_utc = datetime.datetime.combine(DAY, datetime.time(7), tzinfo=datetime.UTC)
    assert due_tasks(TASKS, {}, at_seven_utc) == []


def test_a_scheduler_started_after_the_time_enqueues_at_once_then_waits_for_tomorrow():
    """A scheduler (re)started at 09:00 enqueues the task at its first tick, not at later ones."""
    CALLS.clear()
    clock = [local(DAY, 9)]
    scheduler = Scheduler([(RECORD, "07:00")], clock=lambda: clock[0])

    assert scheduler.tick() == [RECORD]
    clock[0] = local(DAY, 9, 30)
    assert scheduler.tick() == []
    clock[0] = local(DAY + datetime.timedelta(days=1), 7, 0)
    assert scheduler.tick() == [RECORD]
    assert len(CALLS) == 2


def test_a_wrong_time_is_refused_at_start():
    """A DAILY_REPORT_TIME that is not HH:MM stops the scheduler at start, not at 7 the next day."""
    with pytest.raises(ValueError):
        Scheduler([(REPORT, "7h")])


def test_the_default_setting_runs_the_daily_report_at_seven(settings):
    """settings.PERIODIC_TASKS names the daily report at DAILY_REPORT_TIME, 07:00 by default."""
    assert (REPORT, settings.DAILY_REPORT_TIME) in settings.PERIODIC_TASKS
    assert parse_time(settings.DAILY_REPORT_TIME) == datetime.time(7)


def test_the_loop_stops_when_asked():
    """stop() (what SIGTERM and SIGINT call) ends the loop without waiting for the next tick."""
    scheduler = Scheduler([(RECORD, "07:00")])
    thread = threading.Thread(target=scheduler.run, kwargs={"tick_seconds": 3600})
    thread.start()
    scheduler.stop()
    thread.join(timeout=5)
    assert not thread.is_alive()


def test_the_scheduled_task_sends_yesterdays_report_in_the_morning(owner, mailoutbox):
    """At 07:00 the next morning, a tick sends the report of the day before, once."""
    add_campaign_activity(owner.tenant, name="Spring sale", at=local(DAY, 15), sent=3)
    mailoutbox.clear()
    morning = local(DAY + datetime.timedelta(days=1), 7)
    with time_machine.travel(morning, tick=False):
        scheduler = Scheduler(TASKS)
        assert scheduler.tick() == [REPORT]
        Scheduler(TASKS).tick()  # a second scheduler

    assert [message.to for message in mailoutbox] == [[owner.email]]
    assert list(DailyReport.unscoped.values_list("day", flat=True)) == [DAY]


def test_an_interval_task_is_due_at_start_then_each_interval():
    """'every 60s': due at once, then not until 60 seconds after it was last enqueued."""
    tasks = [(RECORD, "every 60s")]
    start = local(DAY, 9)
    assert due_tasks(tasks, {}, start) == [RECORD]
    assert due_tasks(tasks, {RECORD: start}, start + datetime.timedelta(seconds=59)) == []
    assert due_tasks(tasks, {RECORD: start}, start + datetime.timedelta(seconds=60)) == [RECORD]


def test_a_scheduler_enqueues_an_interval_task_every_interval_beside_the_daily_ones():
    """Ticks 30 seconds apart enqueue an every-60-seconds task every other tick, for days on end,
    while the daily task still goes once a day."""
    CALLS.clear()
    clock = [local(DAY, 6, 59)]
    scheduler = Scheduler(
        [(RECORD, "every 60s"), (REPORT_AT_NINE, "09:00")], clock=lambda: clock[0]
    )
    enqueued = []
    for _ in range(8):
        enqueued.append(scheduler.tick())
        clock[0] += datetime.timedelta(seconds=30)
    assert enqueued == [[RECORD], [], [RECORD], [], [RECORD], [], [RECORD], []]
    assert len(CALLS) == 4
    clock[0] = local(DAY, 9)
    assert scheduler.tick() == [RECORD, REPORT_AT_NINE]
    clock[0] = local(DAY, 9) + datetime.timedelta(seconds=30)
    assert scheduler.tick() == []


def test_a_wrong_interval_is_refused_at_start():
    """'every 0s', 'every minute' or 'every 60' stop the scheduler at start."""
    for wrong in ("every 0s", "every minute", "every 60", "every -5s"):
        with pytest.raises(ValueError):
            Scheduler([(RECORD, wrong)])
    assert parse_interval("every 60s") == datetime.timedelta(seconds=60)
    assert parse_interval("07:00") is None


def test_the_loop_waits_no_longer_than_the_shortest_interval():
    """An every-second task is enqueued about once a second, not once per 30-second tick."""
    CALLS.clear()
    scheduler = Scheduler([(RECORD, "every 1s")])
    thread = threading.Thread(target=scheduler.run, kwargs={"tick_seconds": 30})
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while len(CALLS) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        scheduler.stop()
        thread.join(timeout=5)
    assert len(CALLS) >= 2


def test_with_redis_the_tracking_counters_are_flushed_every_minute():
    """REDIS_URL set: PERIODIC_TASKS moves the counted opens and clicks into the tables every
    60 seconds; without it, nothing is scheduled for them."""
    program = (
        "import django; django.setup(); from django.conf import settings; "
        "print([t for t in settings.PERIODIC_TASKS if 'tracking' in t[0]])"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "infolettre.settings.test"}
    schedules = {}
    for redis_url in ("redis://127.0.0.1:6379/15", ""):
        result = subprocess.run(
            [sys.executable, "-c", program],
            env={**env, "REDIS_URL": redis_url},
            capture_output=True,
            text=True,
            check=True,
        )
        schedules[redis_url] = result.stdout.strip()
    assert schedules == {
        "redis://127.0.0.1:6379/15": (
            "[('infolettre.campaigns.tracking_counters.flush_tracking_counters', 'every 60s')]"
        ),
        "": "[]",
    }
