"""What one organisation's campaigns did during one local day: the figures of the daily report.

Counts only: no address, no name of a person. The day is the local day of settings.TIME_ZONE, so a
day of a change of hour has 23 or 25 hours.
"""

import datetime
import zoneinfo

from django.conf import settings
from django.db.models import Count, Sum
from django.utils import timezone

from infolettre.accounts.tenancy import tenant_scope
from infolettre.audience.models import Subscription, SubscriptionStatus
from infolettre.campaigns.models import (
    Bounce,
    BounceKind,
    Campaign,
    ClickCount,
    Delivery,
    OpenCount,
    TrackingMode,
)

TOTALS = (
    "campaigns_started",
    "campaigns_finished",
    "sent",
    "bounced",
    "complaints",
    "unsubscribes",
    "opens",
    "clicks",
)


def local_zone():
    return zoneinfo.ZoneInfo(settings.TIME_ZONE)


def previous_local_day(now=None):
    """The local day before the one `now` falls in."""
    now = now or timezone.now()
    return now.astimezone(local_zone()).date() - datetime.timedelta(days=1)


def day_bounds(day):
    """The instants [start, end) of a local day."""
    zone = local_zone()
    start = datetime.datetime.combine(day, datetime.time.min, tzinfo=zone)
    end = datetime.datetime.combine(
        day + datetime.timedelta(days=1), datetime.time.min, tzinfo=zone
    )
    return start, end


def _per_campaign(rows, key="campaign"):
    return {row[key]: row["n"] for row in rows if row[key] is not None}


def delivery_figures(start, end):
    """Campaigns started and finished, messages sent, bounces, complaints and unsubscribes.

    Runs in the organisation's tenant scope. Returns (totals, {campaign id: counts}).
    """
    started = set(
        Campaign.objects.filter(started_at__gte=start, started_at__lt=end).values_list(
            "pk", flat=True
        )
    )
    finished = set(
        Campaign.objects.filter(finished_at__gte=start, finished_at__lt=end).values_list(
            "pk", flat=True
        )
    )
    sent = _per_campaign(
        Delivery.objects.filter(sent_at__gte=start, sent_at__lt=end)
        .values("campaign")
        .annotate(n=Count("pk"))
        .order_by()
    )
    bounces = Bounce.objects.filter(received_at__gte=start, received_at__lt=end)
    hard_and_soft = bounces.exclude(kind=BounceKind.COMPLAINT)
    complaints = bounces.filter(kind=BounceKind.COMPLAINT)
    bounced = _per_campaign(
        hard_and_soft.values("delivery__campaign").annotate(n=Count("pk")).order_by(),
        key="delivery__campaign",
    )
    complained = _per_campaign(
        complaints.values("delivery__campaign").annotate(n=Count("pk")).order_by(),
        key="delivery__campaign",
    )
    # A person who left one list or several that day counts once.
    unsubscribes = (
        Subscription.objects.filter(
            status=SubscriptionStatus.UNSUBSCRIBED,
            unsubscribed_at__gte=start,
            unsubscribed_at__lt=end,
        )
        .values("contact")
        .distinct()
        .count()
    )
    totals = {
        "campaigns_started": len(started),
        "campaigns_finished": len(finished),
        "sent": sum(sent.values()),
        # Bounces of purged deliveries count in the totals, though no campaign is named.
        "bounced": hard_and_soft.count(),
        "complaints": complaints.count(),
        "unsubscribes": unsubscribes,
    }
    campaigns = {}
    for campaign_id in started | finished | set(sent) | set(bounced) | set(complained):
        campaigns[campaign_id] = {
            "started": campaign_id in started,
            "finished": campaign_id in finished,
            "sent": sent.get(campaign_id, 0),
            "bounced": bounced.get(campaign_id, 0),
            "complaints": complained.get(campaign_id, 0),
        }
    return totals, campaigns


def engagement_figures(start, end, campaign_ids):
    """Opens and clicks by people (machines are left out), as (totals, {campaign id: counts}).

    Runs in the organisation's tenant scope. None when neither the day's campaigns nor any hit of
    the day counted opens and clicks. Counts are kept per hour: a local day is whole hours wherever
    the zone's offset from UTC is whole hours.
    """
    opens = _per_campaign(
        OpenCount.objects.filter(hour__gte=start, hour__lt=end, people__gt=0)
        .values("campaign")
        .annotate(n=Sum("people"))
        .order_by()
    )
    clicks = _per_campaign(
        ClickCount.objects.filter(hour__gte=start, hour__lt=end, people__gt=0)
        .values("campaign")
        .annotate(n=Sum("people"))
        .order_by()
    )
    counted = (
        Campaign.objects.filter(pk__in=set(campaign_ids) | set(opens) | set(clicks))
        .exclude(tracking=TrackingMode.NONE)
        .values_list("pk", flat=True)
    )
    counted = set(counted)
    if not counted:
        return None
    by_campaign = {
        campaign_id: {"opens": opens.get(campaign_id, 0), "clicks": clicks.get(campaign_id, 0)}
        for campaign_id in counted | set(opens) | set(clicks)
    }
    totals = {"opens": sum(opens.values()), "clicks": sum(clicks.values())}
    return totals, by_campaign


def daily_figures(tenant, day):
    """The report of one organisation for one local day; `active` is False when nothing happened."""
    start, end = day_bounds(day)
    with tenant_scope(tenant):
        totals, campaigns = delivery_figures(start, end)
        engagement = engagement_figures(start, end, campaigns)
        if engagement is not None:
            engagement_totals, engagement_by_campaign = engagement
            totals.update(engagement_totals)
            for campaign_id, counts in engagement_by_campaign.items():
                if campaign_id in campaigns or any(counts.values()):
                    campaigns.setdefault(
                        campaign_id,
                        {
                            "started": False,
                            "finished": False,
                            "sent": 0,
                            "bounced": 0,
                            "complaints": 0,
                        },
                    ).update(counts)
        names = dict(Campaign.objects.filter(pk__in=campaigns).values_list("pk", "name"))
    rows = [
        {"id": campaign_id, "name": names.get(campaign_id, ""), **counts}
        for campaign_id, counts in sorted(campaigns.items())
    ]
    return {
        "day": day.isoformat(),
        "tracked": engagement is not None,
        "totals": totals,
        "campaigns": rows,
        "active": any(totals.get(name) for name in TOTALS),
    }
