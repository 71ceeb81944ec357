"""Reads of campaigns and sender addresses, scoped to the active organisation."""

from django.db.models import Count, Q

from .models import Campaign, Delivery, DeliveryStatus, SenderAddress

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


def campaign_counts(campaign):
    """The campaign's recipients and how many of them are queued, sent, bounced or failed, now."""
    counts = Delivery.unscoped.filter(tenant_id=campaign.tenant_id, campaign=campaign).aggregate(
        recipients=Count("pk"),
        **{status.value: Count("pk", filter=Q(status=status)) for status in COUNTED},
    )
    return {"recipients": counts["recipients"], **{s.value: counts[s.value] for s in COUNTED}}


def progress(counts):
    """The share of recipients already dealt with (sent, bounced or failed), in whole percent."""
    if not counts["recipients"]:
        return 0
    done = counts["recipients"] - counts["queued"]
    return done * 100 // counts["recipients"]


def campaigns_with_counts():
    """Every campaign of the organisation with its sender and its live delivery counts."""
    return (
        Campaign.objects.select_related("sender")
        .annotate(
            delivered_count=Count("deliveries", filter=Q(deliveries__status=DeliveryStatus.SENT)),
            queued_count=Count("deliveries", filter=Q(deliveries__status=DeliveryStatus.QUEUED)),
            bounced_count=Count("deliveries", filter=Q(deliveries__status=DeliveryStatus.BOUNCED)),
            failed_count=Count("deliveries", filter=Q(deliveries__status=DeliveryStatus.FAILED)),
        )
        .order_by("-created_at", "-id")
    )


def senders():
    return SenderAddress.objects.all()


def verified_senders():
    return SenderAddress.objects.filter(verified_at__isnull=False)
