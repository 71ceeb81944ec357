"""Activity of a day, written straight into the tables the report reads."""

import datetime
import zoneinfo

from django.utils import timezone

from infolettre.accounts.tenancy import tenant_scope
from infolettre.audience.actions import (
    do_create_contact,
    do_create_list,
    do_subscribe,
    do_unsubscribe_from_list,
)
from infolettre.campaigns.models import (
    Bounce,
    BounceKind,
    Campaign,
    CampaignStatus,
    Delivery,
    DeliveryStatus,
    SenderAddress,
)

TORONTO = zoneinfo.ZoneInfo("America/Toronto")
DAY = datetime.date(2026, 11, 10)


def local(day, hour, minute=0):
    return datetime.datetime.combine(day, datetime.time(hour, minute), tzinfo=TORONTO)


def add_campaign_activity(
    tenant, *, name, at, sent, bounced=0, soft_bounced=0, complaints=0, finished_at=None
):
    """A campaign started at `at` that sent `sent` messages then, some of them bounced."""
    with tenant_scope(tenant):
        sender = SenderAddress.objects.create(
            tenant=tenant,
            email=f"{name.lower().replace(' ', '-')}@example.com",
            name=name,
            verified_at=timezone.now(),
        )
        campaign = Campaign.objects.create(
            tenant=tenant,
            name=name,
            subject=name,
            sender=sender,
            status=CampaignStatus.SENT if finished_at else CampaignStatus.SENDING,
            started_at=at,
            finished_at=finished_at,
        )
        deliveries = [
            Delivery.objects.create(
                tenant=tenant,
                campaign=campaign,
                email=f"reader{n}@example.com",
                status=DeliveryStatus.SENT,
                sent_at=at,
            )
            for n in range(sent)
        ]
        kinds = (
            [BounceKind.HARD] * bounced
            + [BounceKind.SOFT] * soft_bounced
            + [BounceKind.COMPLAINT] * complaints
        )
        for delivery, kind in zip(deliveries, kinds, strict=False):
            Bounce.objects.create(
                tenant=tenant, delivery=delivery, email=delivery.email, kind=kind, received_at=at
            )
    return campaign


def add_unsubscribe(tenant, *, email, at, lists=1):
    """A contact on `lists` lists who leaves them all at `at`."""
    with tenant_scope(tenant):
        contact = do_create_contact(tenant, email=email)
        for n in range(lists):
            mailing_list = do_create_list(tenant, name=f"List of {email} {n}")
            subscription = do_subscribe(contact, mailing_list, source="test")
            do_unsubscribe_from_list(subscription)
            subscription.unsubscribed_at = at
            subscription.save(update_fields=["unsubscribed_at"])
