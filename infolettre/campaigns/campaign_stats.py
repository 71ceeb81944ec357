"""The figures of a campaign's report: what was sent, what came back, and what was opened and clicked.

Opens and clicks are counted people and machines apart (see tracking_actions.MACHINE_AGENTS); the
rates count people only. Unique opens and clicks exist in per-recipient mode only: in aggregate
mode there are totals, which may count one person many times.

Opens, clicks and unsubscribes are counted at each request, from small tables and partial
indexes. For a campaign of EXACT_BELOW recipients or more, the deliveries by status (as on the
campaigns page), the messages sent per hour and the complaints, which read every delivery or every
complaint of the organisation, are kept campaign_queries.LIVE_SECONDS while it may still send and
SETTLED_SECONDS once it is over.
"""

import logging
from datetime import UTC

import redis
from django.db.models import Count, Sum
from django.db.models.functions import TruncHour

from infolettre import counts as kept
from infolettre.counts import COUNTING, cache_key, cached_figures

from .campaign_queries import LIVE_SECONDS, SETTLED, SETTLED_SECONDS, kept_counts
from .footer import NO_TRACKING, PER_RECIPIENT_TRACKING
from .models import (
    Bounce,
    BounceKind,
    CampaignLink,
    ClickCount,
    Delivery,
    DeliveryEngagement,
    DeliveryStatus,
    OpenCount,
)
from .tracking_counters import do_flush_tracking_counters

logger = logging.getLogger(__name__)


def _rate(part, whole):
    return round(part / whole, 4) if part is not None and whole else None


def _hourly(queryset, field):
    return {
        row["hour"]: (row["people"] or 0, row["machines"] or 0)
        for row in queryset.values(field)
        .annotate(people=Sum("people"), machines=Sum("machines"))
        .values("hour", "people", "machines")
        .order_by()
    }


def campaign_stats(campaign, counting=False):
    """Every figure of the report and of GET /campaigns/{id}/stats, as plain values.

    With `counting` (the report page), the kept figures of a big campaign not kept yet are None,
    with "counting" true, and they are counted after the answer (see the top of this module)."""
    try:
        # Hits still counted in Redis join the tables first: the figures are those of the last hit.
        do_flush_tracking_counters()
    except redis.RedisError:
        logger.warning("Redis did not answer: the report shows the counts of the last flush")
    counts = _delivery_counts(campaign, counting)
    slow = _slow_figures(campaign, counting)
    being_counted = counts["sent"] is None or slow is COUNTING
    if slow is COUNTING:
        slow = {"sends": None, "complained": None}
    complained = slow["complained"]
    delivered = None if counts["sent"] is None else counts["sent"] - counts["bounced"]
    per_recipient = campaign.tracking == PER_RECIPIENT_TRACKING
    opens = OpenCount.unscoped.filter(tenant_id=campaign.tenant_id, campaign=campaign)
    clicks = ClickCount.unscoped.filter(tenant_id=campaign.tenant_id, campaign=campaign)
    open_totals = opens.aggregate(people=Sum("people"), machines=Sum("machines"))
    click_totals = clicks.aggregate(people=Sum("people"), machines=Sum("machines"))
    unique_opens = unique_clicks = None
    if per_recipient:
        # The campaign is the organisation's: its rows need no tenant condition, and each count
        # reads a partial index alone (migration 0009).
        engaged = DeliveryEngagement.unscoped.filter(campaign=campaign)
        unique_opens = engaged.filter(first_opened_at__isnull=False).count()
        unique_clicks = engaged.filter(first_clicked_at__isnull=False).count()
    return {
        "campaign_id": campaign.pk,
        "tracking": campaign.tracking,
        "counted": campaign.tracking != NO_TRACKING,
        "counting": being_counted,
        "recipients": counts["recipients"],
        "sent": counts["sent"],
        "delivered": delivered,
        "bounced": counts["bounced"],
        "failed": counts["failed"],
        "unsubscribed": counts["unsubscribed"],
        "complained": complained,
        "opens": {
            "people": open_totals["people"] or 0,
            "machines": open_totals["machines"] or 0,
            "unique": unique_opens,
        },
        "clicks": {
            "people": click_totals["people"] or 0,
            "machines": click_totals["machines"] or 0,
            "unique": unique_clicks,
        },
        "rates": {
            "delivered": _rate(delivered, counts["sent"]),
            "bounced": _rate(counts["bounced"], counts["sent"]),
            "opened": _rate(unique_opens, delivered),
            "clicked": _rate(unique_clicks, delivered),
            "unsubscribed": _rate(counts["unsubscribed"], delivered),
            "complained": _rate(complained, delivered),
        },
        # Without the messages sent per hour, no timeline rather than one showing none sent.
        "hourly": [] if slow["sends"] is None else _timeline(slow["sends"], opens, clicks),
        "links": _links(campaign, clicks),
    }


def _delivery_counts(campaign, counting=False):
    by_status = kept_counts([campaign], counting)[campaign.pk]
    # The campaign is the organisation's: no tenant condition, and only the few deliveries whose
    # recipient unsubscribed are read (a partial index, migration 0009).
    unsubscribed = Delivery.unscoped.filter(campaign=campaign, unsubscribed_at__isnull=False)
    if by_status is COUNTING:
        return {
            "recipients": None,
            "sent": None,
            "bounced": None,
            "failed": None,
            "unsubscribed": unsubscribed.count(),
        }
    return {
        "recipients": sum(by_status.values()),
        "sent": by_status[DeliveryStatus.SENT] + by_status[DeliveryStatus.BOUNCED],
        "bounced": by_status[DeliveryStatus.BOUNCED],
        "failed": by_status[DeliveryStatus.FAILED],
        "unsubscribed": unsubscribed.count(),
    }


def _slow_figures(campaign, counting=False):
    """The messages sent per hour (UTC) and the complaints: kept for a big campaign (see the top
    of this module); COUNTING, with `counting`, while a big campaign's are not kept yet."""

    sent = Delivery.unscoped.filter(campaign=campaign, sent_at__isnull=False)

    def count():
        sends = (
            sent.annotate(hour=TruncHour("sent_at", tzinfo=UTC))
            .values("hour")
            .annotate(n=Count("pk"))
            .values_list("hour", "n")
            .order_by()
        )
        complaints = Bounce.unscoped.filter(
            tenant_id=campaign.tenant_id, delivery__campaign=campaign, kind=BounceKind.COMPLAINT
        )
        return {
            "sends": dict(sends),
            "complained": complaints.values("delivery").distinct().count(),
        }

    return cached_figures(
        cache_key("campaigns:report", campaign.pk),
        count,
        SETTLED_SECONDS if campaign.status in SETTLED else LIVE_SECONDS,
        lambda figures: sum(figures["sends"].values()),
        (lambda: kept.at_least(sent, kept.EXACT_BELOW)) if counting else None,
    )


def _timeline(sends, opens, clicks):
    """One row per hour (UTC) with any activity, in order."""
    opened = _hourly(opens, "hour")
    clicked = _hourly(clicks, "hour")
    rows = []
    for hour in sorted(set(sends) | set(opened) | set(clicked)):
        rows.append(
            {
                "hour": hour.astimezone(UTC),
                "sent": sends.get(hour, 0),
                "opens_people": opened.get(hour, (0, 0))[0],
                "opens_machines": opened.get(hour, (0, 0))[1],
                "clicks_people": clicked.get(hour, (0, 0))[0],
                "clicks_machines": clicked.get(hour, (0, 0))[1],
            }
        )
    return rows


def _links(campaign, clicks):
    totals = {
        row["link"]: row
        for row in clicks.values("link").annotate(people=Sum("people"), machines=Sum("machines"))
    }
    rows = [
        {
            "id": link.pk,
            "url": link.url,
            "clicks_people": totals.get(link.pk, {}).get("people") or 0,
            "clicks_machines": totals.get(link.pk, {}).get("machines") or 0,
        }
        for link in CampaignLink.unscoped.filter(campaign=campaign).order_by("pk")
    ]
    rows.sort(key=lambda row: (-row["clicks_people"], -row["clicks_machines"], row["id"]))
    return rows
