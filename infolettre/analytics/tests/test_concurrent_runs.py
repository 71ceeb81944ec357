"""Two workers running the same day's report at the same moment mail each user once."""

import threading

import pytest
from django.db import connection
from django.utils import timezone

from infolettre.analytics.actions import do_send_daily_report
from infolettre.analytics.models import DailyReport, DailyReportSend

from .helpers import DAY, add_campaign_activity, local


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_concurrent_runs_send_the_report_once(owner, make_member, mailoutbox):
    """Both runs compute the day; one claim wins the insert, the other sends nothing."""
    member = make_member(owner.tenant, email_confirmed_at=timezone.now())
    add_campaign_activity(owner.tenant, name="Spring sale", at=local(DAY, 9), sent=4)
    mailoutbox.clear()
    barrier = threading.Barrier(2)
    results, errors = [], []

    def run():
        try:
            barrier.wait(timeout=10)
            results.append(do_send_daily_report(owner.tenant, DAY))
        except Exception as e:  # reported below, not lost in the thread
            errors.append(e)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert errors == []
    assert sorted(results) == [0, 2]
    assert sorted(m.to[0] for m in mailoutbox) == sorted([owner.email, member.email])
    assert DailyReport.unscoped.filter(tenant=owner.tenant, day=DAY).count() == 1
    assert DailyReportSend.objects.filter(sent_at__isnull=False).count() == 2
