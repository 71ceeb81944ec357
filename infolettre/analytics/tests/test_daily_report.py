"""Each morning every opted-in user of an organisation receives its campaigns' previous day, once."""

import datetime

import pytest
from django.utils import timezone

from infolettre.accounts.models import User
from infolettre.analytics.actions import claim_daily_report, do_send_daily_report
from infolettre.analytics.models import DailyReport, DailyReportSend
from infolettre.analytics.report import daily_figures
from infolettre.analytics.stop_links import make_stop_token, stop_url
from infolettre.analytics.tasks import send_daily_report, send_daily_reports
from infolettre.messaging.email import MessageKind

from .helpers import DAY, add_campaign_activity, add_unsubscribe, local


@pytest.fixture
def team(owner, make_member):
    """An organisation with an owner and a member who receive the report, and three who do not."""
    member = make_member(
        owner.tenant, email="member@example.com", email_confirmed_at=timezone.now()
    )
    make_member(owner.tenant, email="unconfirmed@example.com")
    make_member(
        owner.tenant,
        email="inactive@example.com",
        is_active=False,
        email_confirmed_at=timezone.now(),
    )
    make_member(
        owner.tenant,
        email="stopped@example.com",
        email_confirmed_at=timezone.now(),
        daily_report_stopped_at=timezone.now(),
    )
    return owner, member


@pytest.fixture
def busy_day(team):
    """Two campaigns of the organisation active on DAY, and activity just outside it."""
    owner, _member = team
    tenant = owner.tenant
    add_campaign_activity(
        tenant,
        name="Spring sale",
        at=local(DAY, 9),
        sent=5,
        bounced=1,
        soft_bounced=1,
        complaints=1,
        finished_at=local(DAY, 10),
    )
    add_campaign_activity(tenant, name="Late news", at=local(DAY, 23, 30), sent=2)
    add_campaign_activity(
        tenant, name="The day before", at=local(DAY, 0) - datetime.timedelta(minutes=1), sent=7
    )
    add_campaign_activity(
        tenant, name="The day after", at=local(DAY + datetime.timedelta(days=1), 0), sent=11
    )
    add_unsubscribe(tenant, email="gone@example.com", at=local(DAY, 12), lists=2)
    add_unsubscribe(
        tenant, email="left-earlier@example.com", at=local(DAY, 0) - datetime.timedelta(hours=1)
    )
    return team


def test_figures_count_the_local_day_only(busy_day):
    """The figures of a day count what happened between local midnight and the next, exactly."""
    owner, _member = busy_day
    figures = daily_figures(owner.tenant, DAY)
    assert figures["totals"] == {
        "campaigns_started": 2,
        "campaigns_finished": 1,
        "sent": 7,
        "bounced": 2,
        "complaints": 1,
        "unsubscribes": 1,
    }
    assert [
        (
            row["name"],
            row["started"],
            row["finished"],
            row["sent"],
            row["bounced"],
            row["complaints"],
        )
        for row in figures["campaigns"]
    ] == [("Spring sale", True, True, 5, 2, 1), ("Late news", True, False, 2, 0, 0)]
    assert (figures["active"], figures["tracked"]) == (True, False)


def test_a_day_with_sends_mails_each_opted_in_user_once_with_the_exact_figures(
    busy_day, make_client_user, mailoutbox
):
    """Only the active, confirmed users who did not stop the report get it, with their own figures."""
    owner, member = busy_day
    other = make_client_user()
    add_campaign_activity(other.tenant, name="Other tenant campaign", at=local(DAY, 9), sent=42)
    mailoutbox.clear()

    send_daily_reports.enqueue(DAY.isoformat())

    by_recipient = {message.to[0]: message for message in mailoutbox}
    assert sorted(by_recipient) == sorted([owner.email, member.email, other.email])
    body = by_recipient[owner.email].body
    assert "Messages envoyés : 7" in body
    assert "Rebonds : 2" in body
    assert "Plaintes : 1" in body
    assert "Désabonnements : 1" in body
    assert "Campagnes lancées : 2" in body
    assert "Campagnes terminées : 1" in body
    assert "Spring sale" in body
    assert "Other tenant campaign" not in body
    assert "42" not in body
    assert "Messages envoyés : 42" in by_recipient[other.email].body
    assert "Spring sale" not in by_recipient[other.email].body
    assert (
        by_recipient[owner.email].subject
        == f"{owner.tenant.name} : l’activité de vos campagnes le 10 novembre 2026"
    )
    assert by_recipient[owner.email].extra_headers["X-Infolettre-Kind"] == MessageKind.DAILY_REPORT
    assert DailyReport.unscoped.filter(day=DAY, finished_at__isnull=False).count() == 2
    assert DailyReportSend.objects.filter(sent_at__isnull=False).count() == 3


def test_a_day_without_activity_sends_nothing(busy_day, mailoutbox):
    """The day after nothing happened, nobody is mailed and no report is recorded."""
    owner, _member = busy_day
    quiet_day = DAY - datetime.timedelta(days=3)
    mailoutbox.clear()

    send_daily_report.enqueue(owner.tenant_id, quiet_day.isoformat())

    assert mailoutbox == []
    assert not DailyReport.unscoped.filter(day=quiet_day).exists()


def test_running_the_report_twice_sends_it_once(busy_day, mailoutbox):
    """A second run of the same day (a second scheduler, a restart) sends nothing more."""
    owner, _member = busy_day
    mailoutbox.clear()

    send_daily_reports.enqueue(DAY.isoformat())
    send_daily_reports.enqueue(DAY.isoformat())

    assert len(mailoutbox) == 2
    assert DailyReport.unscoped.filter(tenant=owner.tenant, day=DAY).count() == 1


def test_a_second_claim_of_the_same_day_gets_nothing(busy_day):
    """Two runs claiming one organisation's day at once: the insert of the first wins."""
    owner, _member = busy_day
    figures = daily_figures(owner.tenant, DAY)

    first = claim_daily_report(owner.tenant, DAY, figures)
    second = claim_daily_report(owner.tenant, DAY, figures)

    assert first is not None
    assert second is None
    assert DailyReport.unscoped.filter(tenant=owner.tenant, day=DAY).count() == 1


def test_a_run_that_finds_the_day_claimed_by_another_sends_nothing(busy_day, mailoutbox):
    """While another worker holds the day, a second run sends no copy at all."""
    owner, _member = busy_day
    claim_daily_report(owner.tenant, DAY, daily_figures(owner.tenant, DAY))
    mailoutbox.clear()

    assert do_send_daily_report(owner.tenant, DAY) == 0
    assert mailoutbox == []


def test_a_crashed_run_is_resumed_without_mailing_anyone_twice(busy_day, mailoutbox):
    """A worker died after mailing the owner: once its claim lapses, the next run mails the rest."""
    owner, member = busy_day
    started = timezone.now() - datetime.timedelta(hours=1)
    report = claim_daily_report(owner.tenant, DAY, daily_figures(owner.tenant, DAY), now=started)
    DailyReportSend.objects.create(report=report, user=owner, sent_at=started)
    mailoutbox.clear()

    assert do_send_daily_report(owner.tenant, DAY) == 1

    assert [message.to for message in mailoutbox] == [[member.email]]
    report.refresh_from_db()
    assert report.finished_at is not None
    assert do_send_daily_report(owner.tenant, DAY) == 0
    assert len(mailoutbox) == 1


def test_a_failed_send_is_given_back_for_the_next_run(busy_day, mailoutbox, monkeypatch):
    """A message the mail server refused is not counted as sent: the next run sends it."""
    owner, member = busy_day
    from infolettre.analytics import actions

    real_send = actions.send_email

    def refuse_member(**kwargs):
        if kwargs["to"] == member.email:
            raise OSError("connection refused")
        return real_send(**kwargs)

    monkeypatch.setattr(actions, "send_email", refuse_member)
    mailoutbox.clear()
    assert do_send_daily_report(owner.tenant, DAY) == 1
    assert [message.to for message in mailoutbox] == [[owner.email]]
    assert DailyReport.unscoped.get(tenant=owner.tenant, day=DAY).finished_at is None

    monkeypatch.setattr(actions, "send_email", real_send)
    assert do_send_daily_report(owner.tenant, DAY) == 1
    assert [message.to for message in mailoutbox] == [[owner.email], [member.email]]
    assert DailyReport.unscoped.get(tenant=owner.tenant, day=DAY).finished_at is not None


def test_the_report_carries_one_click_unsubscribe_headers_and_the_link_at_the_bottom(
    busy_day, mailoutbox
):
    """List-Unsubscribe names the user's https stop link; the same link ends the text and HTML."""
    owner, _member = busy_day
    mailoutbox.clear()
    send_daily_report.enqueue(owner.tenant_id, DAY.isoformat())

    message = next(m for m in mailoutbox if m.to == [owner.email])
    link = stop_url(owner)
    assert link == f"http://127.0.0.1:8000/rapport-quotidien/arret/{make_stop_token(owner)}/"
    assert message.extra_headers["List-Unsubscribe"] == f"<{link}>"
    assert message.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    text_footer = message.body.split("\n--\n")[1]
    assert link in text_footer
    html = message.alternatives[0].content
    assert html.index(link) > html.index('role="contentinfo"')
    assert owner.email not in link


def test_the_report_is_written_in_the_users_language(busy_day, make_member, mailoutbox):
    """A user who reads English receives the report in English."""
    owner, _member = busy_day
    english = make_member(
        owner.tenant, email="english@example.com", language="en", email_confirmed_at=timezone.now()
    )
    mailoutbox.clear()
    send_daily_report.enqueue(owner.tenant_id, DAY.isoformat())

    message = next(m for m in mailoutbox if m.to == [english.email])
    assert message.subject == f"{owner.tenant.name}: your campaigns’ activity on Nov. 10, 2026"
    assert "Messages sent: 7" in message.body


def test_stopped_user_is_skipped_the_next_day_while_others_still_receive_it(
    client, busy_day, mailoutbox
):
    """After the one-click POST of the owner, the next day's report reaches the member only."""
    owner, member = busy_day
    response = client.post(
        f"/rapport-quotidien/arret/{make_stop_token(owner)}/",
        {"List-Unsubscribe": "One-Click"},
    )
    assert response.status_code == 200
    owner.refresh_from_db()
    assert owner.daily_report_stopped_at is not None
    assert User.objects.get(pk=member.pk).daily_report_stopped_at is None

    next_day = DAY + datetime.timedelta(days=1)
    mailoutbox.clear()
    send_daily_report.enqueue(owner.tenant_id, next_day.isoformat())

    assert [message.to for message in mailoutbox] == [[member.email]]
