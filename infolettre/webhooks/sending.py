"""One attempt to deliver one webhook: claim it, sign it, POST it, record the answer.

Attempts follow RETRY_DELAYS: a delivery that is not answered with a 2xx is tried again 1 minute,
5 minutes, 30 minutes, 2 hours and 6 hours after each failure, then marked failed. A ping (the test
an owner asks for) is tried once. Claiming is one conditional UPDATE, so two workers that get the
same delivery send it once.
"""

import json
import logging
from datetime import timedelta

from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from .models import WebhookDelivery, WebhookDeliveryStatus, WebhookEvent
from .signing import signature
from .transport import post

logger = logging.getLogger(__name__)

RETRY_DELAYS = (
    timedelta(minutes=1),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=6),
)
# Longer than a request can take (10 s timeout): a crashed worker's claim lapses after this.
CLAIM = timedelta(minutes=2)
USER_AGENT = "Infolettre-Webhooks/1"


def max_attempts(event):
    return 1 if event == WebhookEvent.PING else len(RETRY_DELAYS) + 1


def body_of(delivery):
    return json.dumps(delivery.payload, separators=(",", ":"), ensure_ascii=False).encode()


def headers_of(delivery, body, timestamp):
    return {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "Infolettre-Event": delivery.event,
        "Infolettre-Delivery": str(delivery.pk),
        "Infolettre-Timestamp": str(timestamp),
        "Infolettre-Signature": signature(delivery.endpoint.secret, timestamp, body),
    }


def _claim(delivery_id, now):
    """Take a due pending delivery for this worker; None when it is not due or another has it."""
    claimed = (
        WebhookDelivery.unscoped.filter(
            pk=delivery_id, status=WebhookDeliveryStatus.PENDING, next_attempt_at__lte=now
        )
        .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
        .update(claimed_until=now + CLAIM)
    )
    if not claimed:
        return None
    return WebhookDelivery.unscoped.select_related("endpoint").get(pk=delivery_id)


def attempt_delivery(delivery_id, now=None):
    """Try to deliver once if it is due; return the delivery as recorded, or None if not taken."""
    now = now or timezone.now()
    delivery = _claim(delivery_id, now)
    if delivery is None:
        return None
    delivery.attempts += 1
    if not delivery.endpoint.active:
        delivery.status = WebhookDeliveryStatus.FAILED
        delivery.last_error = _("The endpoint is turned off.")
    else:
        timestamp = int(now.timestamp())
        body = body_of(delivery)
        answer = post(delivery.endpoint.url, body, headers_of(delivery, body, timestamp))
        delivery.last_status_code = answer.status
        delivery.last_error = answer.error
        if not answer.error:
            delivery.status = WebhookDeliveryStatus.DELIVERED
            delivery.delivered_at = timezone.now()
        elif delivery.attempts >= max_attempts(delivery.event):
            delivery.status = WebhookDeliveryStatus.FAILED
        else:
            delivery.next_attempt_at = now + RETRY_DELAYS[delivery.attempts - 1]
    delivery.claimed_until = None
    delivery.save(
        update_fields=[
            "attempts",
            "status",
            "last_status_code",
            "last_error",
            "next_attempt_at",
            "delivered_at",
            "claimed_until",
        ]
    )
    logger.info(
        "Webhook delivery %s (tenant %s, %s): %s after %s attempt(s)",
        delivery.pk,
        delivery.tenant_id,
        delivery.event,
        delivery.status,
        delivery.attempts,
    )
    return delivery


def due_delivery_ids(now=None, limit=500):
    """Pending deliveries whose time has come and that no worker holds."""
    now = now or timezone.now()
    return list(
        WebhookDelivery.unscoped.filter(
            status=WebhookDeliveryStatus.PENDING, next_attempt_at__lte=now
        )
        .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
        .order_by("next_attempt_at", "id")
        .values_list("pk", flat=True)[:limit]
    )
