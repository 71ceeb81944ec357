"""What the other apps call, in one line, after a change that clients may want to hear about.

Each function reads what the event needs from the object it is given (this app imports nothing
from audience or campaigns) and keeps the payload to what a client's system acts on: ids, the
address, counts. The payload is read only when an endpoint wants the event.
"""

from django.db.models import Count

from .actions import do_emit_event
from .models import WebhookEvent


def _subscription_data(subscription):
    return {
        "list_id": subscription.mailing_list_id,
        "contact_id": subscription.contact_id,
        "email": subscription.contact.email,
    }


def emit_subscribe(subscription):
    """A subscription is now confirmed (an unconfirmed double opt-in sign-up is not yet)."""
    if subscription.status == "subscribed":
        do_emit_event(
            subscription.tenant_id,
            WebhookEvent.SUBSCRIBE,
            lambda: _subscription_data(subscription),
        )


def emit_unsubscribe(subscription):
    do_emit_event(
        subscription.tenant_id,
        WebhookEvent.UNSUBSCRIBE,
        lambda: _subscription_data(subscription),
    )


def _bounce_data(bounce):
    delivery = bounce.delivery
    return {
        "campaign_id": delivery.campaign_id if delivery else None,
        "contact_id": delivery.contact_id if delivery else None,
        "email": bounce.email,
    }


def emit_bounce(bounce):
    """A new hard or soft bounce of one campaign message."""
    do_emit_event(
        bounce.tenant_id,
        WebhookEvent.BOUNCE,
        lambda: {**_bounce_data(bounce), "kind": bounce.kind},
        dedupe_key=f"bounce:{bounce.pk}",
    )


def emit_complaint(bounce):
    """A recipient's complaint; a report received twice is told once."""
    do_emit_event(
        bounce.tenant_id,
        WebhookEvent.COMPLAINT,
        lambda: _bounce_data(bounce),
        dedupe_key=f"complaint:{bounce.pk}",
    )


def _campaign_data(campaign, finished_at, recipient_count):
    # Unscoped on purpose: a lane runs outside any tenant's scope.
    deliveries = campaign.deliveries.model.unscoped.filter(campaign_id=campaign.pk)
    counts = dict(deliveries.order_by().values_list("status").annotate(n=Count("pk")))
    return {
        "campaign_id": campaign.pk,
        "finished_at": finished_at.isoformat() if finished_at else None,
        "recipients": recipient_count,
        "sent": counts.get("sent", 0) + counts.get("bounced", 0),
        "bounced": counts.get("bounced", 0),
        "failed": counts.get("failed", 0),
        "skipped": counts.get("skipped", 0),
    }


def emit_campaign_finished(campaign):
    """A campaign is sent; called by every lane that finds no work left, told once."""
    finished = (
        type(campaign)
        .unscoped.filter(pk=campaign.pk, status="sent")
        .values_list("finished_at", "recipient_count")
        .first()
    )
    if finished is None:
        return
    do_emit_event(
        campaign.tenant_id,
        WebhookEvent.CAMPAIGN_FINISHED,
        lambda: _campaign_data(campaign, *finished),
        dedupe_key=f"campaign_finished:{campaign.pk}",
    )
