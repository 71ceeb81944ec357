"""Finished results of the database task engine are deleted after TASK_RESULT_DAYS."""

import datetime

import pytest
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from infolettre.analytics.tasks import prune_finished_tasks

pytestmark = pytest.mark.django_db


def result(status, finished_days_ago):
    now = timezone.now()
    finished = None if finished_days_ago is None else now - datetime.timedelta(finished_days_ago)
    return DBTaskResult.objects.create(
        status=status,
        task_path="infolettre.campaigns.tasks.restart_stalled_campaigns",
        args_kwargs={"args": [], "kwargs": {}},
        backend_name="default",
        queue_name="default",
        finished_at=finished,
        return_value=None,
        exception_class_path="",
        traceback="",
    )


def test_old_finished_results_go_and_the_rest_stay(settings):
    """Done or failed 15 days ago: deleted; done yesterday, or still waiting: kept."""
    settings.TASKS = {
        "default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}
    }
    settings.TASK_RESULT_DAYS = 14
    old_done, old_failed = result("SUCCESSFUL", 15), result("FAILED", 15)
    recent, waiting = result("SUCCESSFUL", 1), result("READY", None)

    assert prune_finished_tasks.call() == 2

    kept = set(DBTaskResult.objects.values_list("pk", flat=True))
    assert kept == {recent.pk, waiting.pk}
    assert old_done.pk not in kept and old_failed.pk not in kept


def test_the_prune_is_scheduled_daily(settings):
    assert ("infolettre.analytics.tasks.prune_finished_tasks", "04:45") in settings.PERIODIC_TASKS
