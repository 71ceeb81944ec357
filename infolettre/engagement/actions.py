"""Every change of state of the operator's messages and of its newsletter's subscribers.

The kinds are kept apart by separate paths, not by a flag checked in one place: a service notice
goes through `do_send_service_notice` (every client user, no opt-out, never promotion) and a
newsletter or special offer through `do_send_promotional_message`, which cannot run without the
consent purpose of its kind and sends each copy with a one-click unsubscribe.
"""

import logging

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from infolettre.accounts.actions import consent_wording
from infolettre.accounts.errors import InvalidLink
from infolettre.accounts.models import User
from infolettre.accounts.tokens import address_digest
from infolettre.campaigns.templating import html_to_text
from infolettre.privacy.actions import do_record_consent
from infolettre.privacy.purposes import NEWSLETTER, SPECIAL_OFFERS
from infolettre.privacy.queries import has_consent

from .errors import AlreadySent, NoConsentPurpose, NotAServiceNotice, PromotionInServiceNotice
from .models import (
    NewsletterSubscriber,
    OperatorDelivery,
    OperatorMessage,
    OperatorMessageKind,
)
from .queries import client_users, confirmed_subscribers, with_current_consent
from .tokens import read_confirmation_token, read_unsubscribe_token

logger = logging.getLogger(__name__)

# The consent each promotional kind rests on; a service notice has none, and needs none.
PROMOTIONAL_PURPOSES = {
    OperatorMessageKind.NEWSLETTER: NEWSLETTER,
    OperatorMessageKind.SPECIAL_OFFERS: SPECIAL_OFFERS,
}

# How a withdrawal arrived; logged as a count, never with the address.
PAGE = "page"
ONE_CLICK = "one_click"


# The newsletter sign-up (double opt-in) -----------------------------------------------------------


@transaction.atomic
def do_newsletter_signup(*, email, name, language):
    """Record a sign-up and mail its confirmation link; return the subscriber, or None if unchanged.

    Nothing is consented until the link is followed: anyone can type anyone's address. A person
    who already receives the newsletter gets nothing, and the page answers as for anyone else, so
    the form does not tell who is subscribed. A confirmed person's name is never changed from here.
    """
    from .tasks import send_newsletter_confirmation

    now = timezone.now()
    subscriber = NewsletterSubscriber.objects.select_for_update().filter(email=email).first()
    if subscriber is None:
        try:
            with transaction.atomic():
                subscriber = NewsletterSubscriber.objects.create(
                    email=email, name=name, language=language, confirmation_requested_at=now
                )
        except IntegrityError:  # the same address, signed up at the same moment
            return None
    elif has_consent(subscriber, NEWSLETTER.code):
        return None
    else:
        subscriber.confirmation_requested_at = now
        fields = ["confirmation_requested_at"]
        if subscriber.confirmed_at is None:
            subscriber.name, subscriber.language = name, language
            fields += ["name", "language"]
        subscriber.save(update_fields=fields)
    transaction.on_commit(lambda: send_newsletter_confirmation.enqueue(subscriber.pk))
    return subscriber


def subscriber_from_link(token):
    """The subscriber a confirmation link names, if the link still means something.

    The address must be the one the link was sent to, and a sign-up must be waiting for it (or
    already be confirmed and still consented: confirming twice shows the same page).
    """
    subscriber_id, digest = read_confirmation_token(token)
    subscriber = NewsletterSubscriber.objects.filter(pk=subscriber_id).first()
    if subscriber is None or address_digest(subscriber.email) != digest:
        raise InvalidLink()
    if subscriber.confirmation_requested_at is None and not has_consent(
        subscriber, NEWSLETTER.code
    ):
        raise InvalidLink()
    return subscriber


@transaction.atomic
def do_confirm_newsletter(token, *, source):
    """Confirm the address and record the consent, with the words shown; twice changes nothing."""
    subscriber = subscriber_from_link(token)
    subscriber = NewsletterSubscriber.objects.select_for_update().get(pk=subscriber.pk)
    if subscriber.confirmation_requested_at is None:
        return subscriber
    now = timezone.now()
    subscriber.confirmed_at = subscriber.confirmed_at or now
    subscriber.confirmation_requested_at = None
    subscriber.save(update_fields=["confirmed_at", "confirmation_requested_at"])
    if not has_consent(subscriber, NEWSLETTER.code):
        do_record_consent(
            subscriber, NEWSLETTER, given=True, wording=consent_wording(NEWSLETTER), source=source
        )
    return subscriber


# Writing and sending a message --------------------------------------------------------------------


def check_operator_message(kind, contains_promotion):
    if kind == OperatorMessageKind.SERVICE_NOTICE and contains_promotion:
        raise PromotionInServiceNotice()


def do_create_operator_message(*, kind, subject, html_body, text_body="", contains_promotion):
    """Write a message of one kind; its text form is derived from the HTML when none is given."""
    check_operator_message(kind, contains_promotion)
    return OperatorMessage.objects.create(
        kind=kind,
        subject=subject,
        html_body=html_body,
        text_body=text_body or html_to_text(html_body),
        contains_promotion=contains_promotion,
    )


def do_send_operator_message(message):
    """Send a message by the path of its kind; return how many people it was queued for."""
    if message.kind == OperatorMessageKind.SERVICE_NOTICE:
        return do_send_service_notice(message)
    return do_send_promotional_message(message)


def service_notice_recipients():
    return [
        (ContentType.objects.get_for_model(User), list(client_users().values_list("pk", flat=True)))
    ]


def promotional_recipients(purpose):
    """Those whose current consent for `purpose` is yes: client users and, for the newsletter,
    confirmed subscribers whose address is not already a consenting client user's."""
    users = with_current_consent(client_users(), purpose)
    recipients = [
        (ContentType.objects.get_for_model(User), list(users.values_list("pk", flat=True)))
    ]
    if purpose == NEWSLETTER:
        subscribers = with_current_consent(confirmed_subscribers(), NEWSLETTER).exclude(
            email__in=users.values("email")
        )
        recipients.append(
            (
                ContentType.objects.get_for_model(NewsletterSubscriber),
                list(subscribers.values_list("pk", flat=True)),
            )
        )
    return recipients


def count_recipients(kind):
    """How many people a message of this kind would reach now (a dry run sends nothing)."""
    if kind == OperatorMessageKind.SERVICE_NOTICE:
        recipients = service_notice_recipients()
    else:
        purpose = PROMOTIONAL_PURPOSES.get(kind)
        if purpose is None:
            raise NoConsentPurpose()
        recipients = promotional_recipients(purpose)
    return sum(len(ids) for _subject_type, ids in recipients)


@transaction.atomic
def do_send_service_notice(message):
    """Queue a service notice for every client user, whatever their marketing choices.

    Refused when it is marked as containing promotion: promotion goes only to those who consented.
    """
    if message.kind != OperatorMessageKind.SERVICE_NOTICE:
        raise NotAServiceNotice()
    if message.contains_promotion:
        raise PromotionInServiceNotice()
    return _queue(message, service_notice_recipients())


@transaction.atomic
def do_send_promotional_message(message):
    """Queue a newsletter or special offer for those who consented to its purpose, and no one else."""
    purpose = PROMOTIONAL_PURPOSES.get(message.kind)
    if purpose is None:
        raise NoConsentPurpose()
    return _queue(message, promotional_recipients(purpose))


def _queue(message, recipients):
    """Write one delivery per recipient, mark the message sent, and start the send after commit."""
    from .tasks import send_operator_message

    message = OperatorMessage.objects.select_for_update().get(pk=message.pk)
    if message.sent_at is not None:
        raise AlreadySent()
    OperatorDelivery.objects.bulk_create(
        [
            OperatorDelivery(message=message, subject_type=subject_type, subject_id=subject_id)
            for subject_type, ids in recipients
            for subject_id in ids
        ],
        ignore_conflicts=True,
    )
    message.recipient_count = message.deliveries.count()
    message.sent_at = timezone.now()
    message.save(update_fields=["recipient_count", "sent_at"])
    transaction.on_commit(lambda: send_operator_message.enqueue(message.pk))
    logger.info(
        "Operator message %s (%s) queued for %s recipients",
        message.pk,
        message.kind,
        message.recipient_count,
    )
    return message.recipient_count


# Unsubscribing (newsletter and special offers only) -----------------------------------------------


def delivery_from_link(token):
    """The promotional delivery an unsubscribe link names; InvalidLink when altered or unknown."""
    delivery = (
        OperatorDelivery.objects.select_related("message", "subject_type")
        .filter(token=read_unsubscribe_token(token))
        .exclude(message__kind=OperatorMessageKind.SERVICE_NOTICE)
        .first()
    )
    if delivery is None:
        raise InvalidLink(_("This unsubscribe link is no longer valid."))
    return delivery


def withdrawal_words(purpose):
    """The words of the unsubscribe page, kept in the ledger as what the person answered."""
    return _("Stop receiving “%(purpose)s” from %(operator)s.") % {
        "purpose": purpose.label,
        "operator": settings.OPERATOR["name"],
    }


@transaction.atomic
def do_unsubscribe_from_message(delivery, *, source, how):
    """Withdraw, at once, the consent the message's kind rests on; only that one, and only once."""
    purpose = PROMOTIONAL_PURPOSES[delivery.message.kind]
    model = delivery.subject_type.model_class()
    subject = model._default_manager.select_for_update().filter(pk=delivery.subject_id).first()
    if subject is None or not has_consent(subject, purpose.code):
        return None
    event = do_record_consent(
        subject, purpose, given=False, wording=withdrawal_words(purpose), source=source
    )
    logger.info("Operator message unsubscribe (%s) for purpose %s", how, purpose.code)
    return event
