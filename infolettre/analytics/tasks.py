import datetime

from django.tasks import task

from infolettre.accounts.models import Organisation

from .report import previous_local_day


@task()
def send_daily_reports(day=None):
    """Queue the daily report of every open organisation for a local day (yesterday by default).

    Safe to run twice: each organisation's report of a day is sent once.
    """
    day = day or previous_local_day().isoformat()
    for organisation_id in (
        Organisation.objects.filter(closed_at__isnull=True)
        .order_by("pk")
        .values_list("pk", flat=True)
    ):
        send_daily_report.enqueue(organisation_id, day)


@task()
def send_daily_report(organisation_id, day):
    """Send one organisation's report of one local day (an ISO date) to its users, once."""
    from .actions import do_send_daily_report

    organisation = Organisation.objects.filter(pk=organisation_id, closed_at__isnull=True).first()
    if organisation is None:
        return 0
    return do_send_daily_report(organisation, datetime.date.fromisoformat(day))


@task()
def prune_finished_tasks(days=None):
    """Delete the database task engine's results finished more than `days` ago (TASK_RESULT_DAYS).

    The watchdog alone finishes a task a minute; without this the table grows for ever. Nothing
    to do when tasks run on Redis, which expires its own results.
    """
    from django.conf import settings
    from django.utils import timezone
    from django_tasks_db.models import DBTaskResult

    if not settings.TASKS["default"]["BACKEND"].startswith("django_tasks_db."):
        return 0
    days = settings.TASK_RESULT_DAYS if days is None else days
    cutoff = timezone.now() - datetime.timedelta(days=days)
    deleted, _ = DBTaskResult.objects.finished().filter(finished_at__lt=cutoff).delete()
    return deleted
