"""Opens and clicks of the day join the report when the campaigns counted them; machines stay out."""

import datetime

from infolettre.accounts.tenancy import tenant_scope
from infolettre.analytics.report import daily_figures
from infolettre.analytics.tasks import send_daily_report
from infolettre.campaigns.models import (
    Campaign,
    CampaignLink,
    ClickCount,
    OpenCount,
    TrackingMode,
)

from .helpers import DAY, add_campaign_activity, local


def count_hits(campaign, *, hour, opens, clicks, machine_opens=0):
    with tenant_scope(campaign.tenant):
        OpenCount.objects.create(
            tenant=campaign.tenant,
            campaign=campaign,
            hour=hour,
            people=opens,
            machines=machine_opens,
        )
        link, _ = CampaignLink.unscoped.get_or_create(
            tenant=campaign.tenant, campaign=campaign, url="https://example.com/"
        )
        ClickCount.objects.create(
            tenant=campaign.tenant, campaign=campaign, link=link, hour=hour, people=clicks
        )


def test_opens_and_clicks_by_people_of_the_local_day_are_reported(owner, mailoutbox):
    """People's opens and clicks of the day count; machines and other days' hits do not."""
    campaign = add_campaign_activity(owner.tenant, name="Spring sale", at=local(DAY, 9), sent=10)
    Campaign.unscoped.filter(pk=campaign.pk).update(tracking=TrackingMode.AGGREGATE)
    count_hits(campaign, hour=local(DAY, 10), opens=4, clicks=2, machine_opens=9)
    count_hits(campaign, hour=local(DAY, 23), opens=1, clicks=1)
    count_hits(campaign, hour=local(DAY + datetime.timedelta(days=1), 0), opens=30, clicks=30)

    figures = daily_figures(owner.tenant, DAY)

    assert figures["tracked"] is True
    assert (figures["totals"]["opens"], figures["totals"]["clicks"]) == (5, 3)
    assert [(row["name"], row["opens"], row["clicks"]) for row in figures["campaigns"]] == [
        ("Spring sale", 5, 3)
    ]
    mailoutbox.clear()
    send_daily_report.enqueue(owner.tenant_id, DAY.isoformat())
    body = mailoutbox[0].body
    assert "Ouvertures : 5" in body
    assert "Clics : 3" in body
    assert "faits par des personnes" in body


def test_opens_alone_make_a_day_of_activity(owner, mailoutbox):
    """A day when an older campaign was only opened still sends a report, naming that campaign."""
    campaign = add_campaign_activity(
        owner.tenant, name="Old news", at=local(DAY - datetime.timedelta(days=5), 9), sent=3
    )
    Campaign.unscoped.filter(pk=campaign.pk).update(tracking=TrackingMode.PER_RECIPIENT)
    count_hits(campaign, hour=local(DAY, 8), opens=2, clicks=0)
    mailoutbox.clear()

    send_daily_report.enqueue(owner.tenant_id, DAY.isoformat())

    assert len(mailoutbox) == 1
    assert "Old news" in mailoutbox[0].body
    assert "Messages envoyés : 0" in mailoutbox[0].body
    assert "Ouvertures : 2" in mailoutbox[0].body


def test_a_report_without_counting_says_opens_and_clicks_are_not_counted(owner, mailoutbox):
    """Campaigns sent without counting: no open or click figure, and the message says why."""
    add_campaign_activity(owner.tenant, name="Spring sale", at=local(DAY, 9), sent=2)
    mailoutbox.clear()

    send_daily_report.enqueue(owner.tenant_id, DAY.isoformat())

    body = mailoutbox[0].body
    assert "Ouvertures" not in body
    assert "ne sont pas comptés" in body
