"""Sending the operator's messages; each task takes ids only and is safe to run twice."""

import logging

from django.conf import settings
from django.core.cache import cache
from django.tasks import task
from django.utils import timezone

from infolettre.audience.signup import CONFIRMATION_RESEND_INTERVAL
from infolettre.messaging.email import MessageKind, send_email
from infolettre.privacy.queries import has_consent

from .actions import PROMOTIONAL_PURPOSES
from .models import (
    DeliveryStatus,
    NewsletterSubscriber,
    OperatorDelivery,
    OperatorMessage,
    OperatorMessageKind,
)
from .tokens import confirmation_url, unsubscribe_url

logger = logging.getLogger(__name__)


def _language(language):
    return language if language in dict(settings.LANGUAGES) else settings.LANGUAGE_CODE


@task()
def send_newsletter_confirmation(subscriber_id):
    """Mail the double opt-in link of a waiting sign-up, at most once in a short while."""
    subscriber = NewsletterSubscriber.objects.filter(
        pk=subscriber_id, confirmation_requested_at__isnull=False
    ).first()
    if subscriber is None:
        return
    if not cache.add(f"newsletter:sent:{subscriber.pk}", 1, CONFIRMATION_RESEND_INTERVAL):
        return
    send_email(
        kind=MessageKind.ACCOUNT,
        to=subscriber.email,
        template="engagement/email/newsletter_confirmation",
        context={"subscriber": subscriber, "link": confirmation_url(subscriber)},
        language=_language(subscriber.language),
    )


def _send_service_notice(message, delivery):
    """A service notice: to the client user, with no opt-out, and never with promotion."""
    if message.contains_promotion:  # refused when queued; checked again at the door
        return False
    user = delivery.recipient
    if user is None or not user.is_active:
        return False
    send_email(
        kind=MessageKind.SERVICE_NOTICE,
        to=user.email,
        template="engagement/email/service_notice",
        context={"message": message, "recipient": user},
        language=_language(user.language),
    )
    return True


def _send_promotional(message, delivery):
    """A newsletter or special offer: only while the person still consents, always with an opt-out."""
    purpose = PROMOTIONAL_PURPOSES[message.kind]
    person = delivery.recipient
    if person is None or not has_consent(person, purpose.code):
        return False
    link = unsubscribe_url(delivery)
    send_email(
        kind=MessageKind.PROMOTIONAL,
        to=person.email,
        template="engagement/email/promotional",
        context={
            "message": message,
            "recipient": person,
            "purpose": purpose,
            "unsubscribe_url": link,
        },
        language=_language(person.language),
        headers={
            "List-Unsubscribe": f"<{link}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
    )
    return True


@task()
def send_operator_message(message_id):
    """Send each queued copy of a message once: a copy is claimed before it is sent.

    A second run finds nothing queued; a crash leaves the claimed copy unsent rather than sent twice.
    """
    message = OperatorMessage.objects.filter(pk=message_id, sent_at__isnull=False).first()
    if message is None:
        return
    send = (
        _send_service_notice
        if message.kind == OperatorMessageKind.SERVICE_NOTICE
        else _send_promotional
    )
    queued = message.deliveries.filter(status=DeliveryStatus.QUEUED).order_by("pk")
    counts = {DeliveryStatus.SENT: 0, DeliveryStatus.SKIPPED: 0, DeliveryStatus.FAILED: 0}
    for delivery_id in list(queued.values_list("pk", flat=True)):
        claimed = OperatorDelivery.objects.filter(
            pk=delivery_id, status=DeliveryStatus.QUEUED
        ).update(status=DeliveryStatus.SENDING)
        if not claimed:
            continue
        delivery = OperatorDelivery.objects.select_related("subject_type").get(pk=delivery_id)
        try:
            status = DeliveryStatus.SENT if send(message, delivery) else DeliveryStatus.SKIPPED
        except Exception:
            logger.exception("Operator message %s: delivery %s failed", message.pk, delivery.pk)
            status = DeliveryStatus.FAILED
        OperatorDelivery.objects.filter(pk=delivery.pk).update(
            status=status, sent_at=timezone.now() if status == DeliveryStatus.SENT else None
        )
        counts[status] += 1
    logger.info(
        "Operator message %s: %s sent, %s skipped, %s failed",
        message.pk,
        counts[DeliveryStatus.SENT],
        counts[DeliveryStatus.SKIPPED],
        counts[DeliveryStatus.FAILED],
    )
