"""Reads of campaigns and sender addresses, scoped to the active organisation.

A campaign's own page and GET /campaigns/{id} count its deliveries at every request (exact, live).
The campaigns page and GET /campaigns count those of the campaigns of the page only, and, like the
report, keep the counts of a campaign of EXACT_BELOW recipients or more (infolettre.counts):
LIVE_SECONDS while it may still send, SETTLED_SECONDS once sent or cancelled (bounces reported
later still move it).
"""

from django.db.models import Count, QuerySet, Value
from django.db.models.query import ModelIterable

from infolettre import counts

from .models import Campaign, CampaignStatus, Delivery, DeliveryStatus, SenderAddress

COUNTED = (
    DeliveryStatus.QUEUED,
    DeliveryStatus.SENT,
    DeliveryStatus.BOUNCED,
    DeliveryStatus.FAILED,
)


def access_campaign_for_tenant(campaign_id):
    return Campaign.objects.access(campaign_id)


def access_sender_for_tenant(sender_id):
    return SenderAddress.objects.access(sender_id)


LIVE_SECONDS = 5
SETTLED_SECONDS = 300
SETTLED = (CampaignStatus.SENT, CampaignStatus.CANCELLED)
# Every status but "sent": few rows each once a campaign is under way (queued ones go fast).
NOT_SENT = tuple(s for s in DeliveryStatus.values if s != DeliveryStatus.SENT)
TOTAL = "*"


def count_deliveries(campaign_ids):
    """{campaign id: {status: number of deliveries}}, every status present.

    Each of these campaigns was found among the organisation's, so their deliveries need no tenant
    condition: PostgreSQL counts them from indexes alone, all of them from the campaign index and
    all but the sent from the (campaign, status) index; the sent are what remains.
    """
    by_campaign = {pk: dict.fromkeys(DeliveryStatus.values, 0) for pk in campaign_ids}
    deliveries = Delivery.unscoped.filter(campaign_id__in=campaign_ids)
    totals = deliveries.values_list("campaign_id").annotate(status=Value(TOTAL), n=Count("*"))
    by_status = (
        deliveries.filter(status__in=NOT_SENT)
        .values_list("campaign_id", "status")
        .annotate(n=Count("*"))
    )
    # One statement, so that both parts see the same moment of a campaign being sent.
    rows = totals.order_by().union(by_status.order_by(), all=True)
    for campaign_id, status, n in sorted(rows, key=lambda row: row[1] != TOTAL):
        if status == TOTAL:
            by_campaign[campaign_id][DeliveryStatus.SENT] = n
        else:
            by_campaign[campaign_id][status] = n
            by_campaign[campaign_id][DeliveryStatus.SENT] -= n
    return by_campaign


def _figures(by_status):
    return {
        "recipients": sum(by_status.values()),
        **{status.value: by_status[status.value] for status in COUNTED},
    }


def campaign_counts(campaign):
    """The campaign's recipients and how many of them are queued, sent, bounced or failed, now."""
    return _figures(count_deliveries([campaign.pk])[campaign.pk])


def kept_counts(campaigns, counting=False):
    """{campaign id: {status: number}} of these campaigns, from the cache when they were kept
    there: LIVE_SECONDS, or SETTLED_SECONDS once sent or cancelled, from EXACT_BELOW on (and,
    past that, while they are counted again after the answer: see infolettre.counts).

    With `counting`, a campaign of EXACT_BELOW deliveries or more whose counts were not kept is
    counts.COUNTING (its counts are read after the answer, for the next view)."""
    status = {campaign.pk: campaign.status for campaign in campaigns}
    return counts.cached_many(
        {pk: counts.cache_key("campaigns:counts", pk) for pk in status},
        count_deliveries,
        lambda pk: SETTLED_SECONDS if status[pk] in SETTLED else LIVE_SECONDS,
        lambda figures: sum(figures.values()),
        _is_big if counting else None,
    )


def _is_big(campaign_id):
    """Whether the campaign has EXACT_BELOW deliveries or more, read from that many index entries."""
    return counts.at_least(Delivery.unscoped.filter(campaign_id=campaign_id), counts.EXACT_BELOW)


class CampaignsWithCounts(QuerySet):
    """Campaigns that carry their delivery counts once read: only those of the page are counted.

    A campaign whose counts are being counted (CampaignsCounting) carries None, and `counting`."""

    counting = False

    def _fetch_all(self):
        fetched = self._result_cache is not None
        super()._fetch_all()
        if fetched or self._iterable_class is not ModelIterable or not self._result_cache:
            return
        listed = kept_counts(self._result_cache, self.counting)
        for campaign in self._result_cache:
            figures = listed[campaign.pk]
            campaign.counting = figures is counts.COUNTING
            figures = figures or dict.fromkeys(DeliveryStatus.values)
            campaign.delivered_count = figures[DeliveryStatus.SENT]
            campaign.queued_count = figures[DeliveryStatus.QUEUED]
            campaign.bounced_count = figures[DeliveryStatus.BOUNCED]
            campaign.failed_count = figures[DeliveryStatus.FAILED]


class CampaignsCounting(CampaignsWithCounts):
    """CampaignsWithCounts for a page, which shows a big campaign's counts not kept yet as being
    counted rather than wait for them."""

    counting = True


def progress(counts):
    """The share of recipients already dealt with (sent, bounced or failed), in whole percent."""
    if not counts["recipients"]:
        return 0
    done = counts["recipients"] - counts["queued"]
    return done * 100 // counts["recipients"]


def campaigns_with_counts(counting=False):
    """Every campaign of the organisation, newest first, with its sender and its delivery counts
    (delivered_count, queued_count, bounced_count, failed_count: see the top of this module);
    with `counting`, None for a big campaign's counts not kept yet (see CampaignsCounting)."""
    campaigns = Campaign.objects.select_related("sender").order_by("-created_at", "-id")
    kind = CampaignsCounting if counting else CampaignsWithCounts
    return kind(model=Campaign, query=campaigns.query, using=campaigns.db)


def senders():
    return SenderAddress.objects.all()


def verified_senders():
    return SenderAddress.objects.filter(verified_at__isnull=False)
