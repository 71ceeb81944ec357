"""One-click unsubscribe: a signed, per-recipient token that names no guessable id, and its action.

The token signs the delivery's random message id, nothing else: no address, no expiry. It keeps
working as long as the delivery row is kept (400 days), far beyond the 60 days the law asks for;
a rotated SECRET_KEY still reads it when the old key is listed in SECRET_KEY_FALLBACKS.
"""

import logging
import re
import uuid
from functools import lru_cache

from django.conf import settings
from django.core import signing
from django.db import transaction
from django.urls import get_script_prefix, get_urlconf, reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from infolettre.accounts.errors import InvalidLink
from infolettre.accounts.tenancy import tenant_scope
from infolettre.audience.actions import do_suppress, do_unsubscribe_from_list, suppression_hash
from infolettre.audience.models import (
    Contact,
    Subscription,
    SubscriptionStatus,
    Suppression,
    SuppressionReason,
)

from .models import Delivery

logger = logging.getLogger(__name__)

SALT = "infolettre.campaigns.unsubscribe"
MESSAGE_ID = re.compile(r"[0-9a-f]{32}")

# How an unsubscribe arrived; logged as a count, never with the address.
PAGE = "page"
ONE_CLICK = "one_click"
MAILTO = "mailto"


def _signer():
    return signing.Signer(salt=SALT)


def make_token(delivery):
    return _signer().sign(delivery.message_id.hex)


@lru_cache(maxsize=8)
def _unsubscribe_path(script_prefix, urlconf):
    # Reversed once, not once per message: a token needs no quoting (hex, ":" and base64url).
    return reverse("campaigns:unsubscribe", args=["TOKEN"], urlconf=urlconf).split("TOKEN")


def unsubscribe_url(delivery):
    before, after = _unsubscribe_path(get_script_prefix(), get_urlconf())
    return settings.SITE_URL + before + make_token(delivery) + after


def delivery_for_message_id(hex_id):
    """The delivery of a message id (32 hex digits, any tenant), or None."""
    hex_id = hex_id.lower()
    if not MESSAGE_ID.fullmatch(hex_id):
        return None
    return (
        Delivery.unscoped.select_related("tenant", "campaign")
        .filter(message_id=uuid.UUID(hex_id))
        .first()
    )


def read_token(token):
    """The delivery an unsubscribe token was made for; InvalidLink when it was altered or is unknown."""
    try:
        hex_id = _signer().unsign(token)
    except signing.BadSignature:
        raise InvalidLink(_("This unsubscribe link is damaged.")) from None
    delivery = delivery_for_message_id(hex_id)
    if delivery is None:
        raise InvalidLink(_("This unsubscribe link is no longer valid."))
    return delivery


def mask_email(email):
    """j***@example.com: enough for a person to recognise their address, not to read it."""
    local, _at, domain = email.partition("@")
    return f"{local[:1]}***@{domain}"


def is_unsubscribed(delivery):
    """Whether the delivery's address is on its client's suppression list."""
    return Suppression.unscoped.filter(
        tenant_id=delivery.tenant_id, email_hash=suppression_hash(delivery.email)
    ).exists()


def _subscriptions(delivery):
    contact = delivery.contact
    if contact is None:
        # The contact was erased or unlinked; one added again with the same address is the person.
        contact = Contact.unscoped.filter(
            tenant_id=delivery.tenant_id, email__iexact=delivery.email
        ).first()
    if contact is None:
        return Subscription.unscoped.none()
    subscriptions = Subscription.unscoped.filter(tenant_id=delivery.tenant_id, contact=contact)
    list_ids = list(delivery.campaign.lists.values_list("pk", flat=True))
    if list_ids:  # a campaign without lists went to every list
        subscriptions = subscriptions.filter(mailing_list_id__in=list_ids)
    return subscriptions.exclude(status=SubscriptionStatus.UNSUBSCRIBED)


def do_unsubscribe_recipient(delivery, *, source):
    """Unsubscribe a recipient at once: off the campaign's lists and suppressed for its client.

    Saying it again changes nothing; an erased contact is still suppressed by the delivery's address.
    """
    with tenant_scope(delivery.tenant), transaction.atomic():
        for subscription in _subscriptions(delivery):
            do_unsubscribe_from_list(subscription)
        do_suppress(delivery.tenant, delivery.email, SuppressionReason.UNSUBSCRIBED)
        # The campaign's report counts who left through its messages; the first time counts.
        Delivery.unscoped.filter(pk=delivery.pk, unsubscribed_at__isnull=True).update(
            unsubscribed_at=timezone.now()
        )
    logger.info("Unsubscribe received (%s) for tenant %s", source, delivery.tenant_id)
