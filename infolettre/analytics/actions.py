"""Changes of state of the daily activity report: stopping it, claiming a day, sending it once."""

import datetime
import logging

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from infolettre.accounts.models import User
from infolettre.messaging.email import MessageKind, send_email

from .models import DailyReport, DailyReportSend
from .report import daily_figures
from .stop_links import stop_url

logger = logging.getLogger(__name__)

# How long a worker keeps a report to itself; renewed at each message. After a crash the report
# waits this long before another run resumes it.
CLAIM = datetime.timedelta(minutes=10)


def do_stop_daily_report(user):
    """Stop the daily report for this user at once; saying it again changes nothing."""
    stopped = User.objects.filter(pk=user.pk, daily_report_stopped_at__isnull=True).update(
        daily_report_stopped_at=timezone.now()
    )
    if stopped:
        logger.info("Daily report stopped by user %s", user.pk)
    user.refresh_from_db(fields=["daily_report_stopped_at"])


def do_resume_daily_report(user):
    """Send the daily report to this user again from the next one."""
    User.objects.filter(pk=user.pk).update(daily_report_stopped_at=None)
    user.refresh_from_db(fields=["daily_report_stopped_at"])


def report_recipients(tenant):
    """Active, confirmed users of the organisation who have not stopped the report."""
    return User.objects.filter(
        tenant=tenant,
        is_active=True,
        is_staff=False,
        email_confirmed_at__isnull=False,
        daily_report_stopped_at__isnull=True,
    ).order_by("pk")


def claim_daily_report(tenant, day, figures, now=None):
    """Take one organisation's report of one day, or None when another run has it or sent it.

    The first run inserts the row (the unique constraint refuses a second); a later run takes over
    only a report left unfinished whose claim lapsed (its worker died).
    """
    now = now or timezone.now()
    try:
        with transaction.atomic():
            return DailyReport.unscoped.create(
                tenant=tenant, day=day, figures=figures, claimed_until=now + CLAIM
            )
    except IntegrityError:
        pass
    taken = (
        DailyReport.unscoped.filter(tenant=tenant, day=day, finished_at__isnull=True)
        .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
        .update(claimed_until=now + CLAIM)
    )
    if not taken:
        return None
    return DailyReport.unscoped.select_related("tenant").get(tenant=tenant, day=day)


def _send_copy(report, user):
    """Send the report to one user unless a copy was already claimed; True when it went out."""
    try:
        with transaction.atomic():
            copy = DailyReportSend.objects.create(report=report, user=user)
    except IntegrityError:
        return False
    try:
        send_email(
            kind=MessageKind.DAILY_REPORT,
            to=user.email,
            template="analytics/email/daily_report",
            context={
                "user": user,
                "organisation": report.tenant,
                "day": datetime.date.fromisoformat(report.figures["day"]),
                "report": report.figures,
                "stop_url": stop_url(user),
            },
            language=user.language,
            headers=stop_headers(user),
        )
    except Exception:
        # Not sent: give the copy back so that the next run sends it.
        copy.delete()
        raise
    DailyReportSend.objects.filter(pk=copy.pk).update(sent_at=timezone.now())
    return True


def stop_headers(user):
    """One-click unsubscribe (RFC 8058) for the daily report only."""
    return {
        "List-Unsubscribe": f"<{stop_url(user)}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }


def do_send_daily_report(tenant, day, now=None):
    """Send one organisation's report of one local day to each of its users, once.

    Returns the number of messages sent by this run. A day without activity sends nothing; a run
    that finds the report claimed by another sends nothing; a run resuming a crashed one sends
    only to the users not yet served.
    """
    figures = daily_figures(tenant, day)
    if not figures["active"]:
        return 0
    report = claim_daily_report(tenant, day, figures, now)
    if report is None:
        return 0
    served = set(report.sends.values_list("user_id", flat=True))
    sent = failed = 0
    for user in report_recipients(tenant):
        if user.pk in served:
            continue
        try:
            sent += _send_copy(report, user)
        except Exception:
            failed += 1
            logger.exception("Daily report %s not sent to user %s", report.pk, user.pk)
            continue
        DailyReport.unscoped.filter(pk=report.pk).update(claimed_until=timezone.now() + CLAIM)
    if failed:
        # Let the next run retry the users it could not reach, without waiting for the claim.
        DailyReport.unscoped.filter(pk=report.pk).update(claimed_until=None)
    else:
        DailyReport.unscoped.filter(pk=report.pk).update(
            finished_at=timezone.now(), claimed_until=None
        )
    logger.info(
        "Daily report %s of organisation %s: %s sent, %s failed", report.pk, tenant.pk, sent, failed
    )
    return sent
