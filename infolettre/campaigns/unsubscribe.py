"""One-click unsubscribe: a signed, per-recipient token that names no guessable id, and its action.

The token signs the delivery's random message id, nothing else: no address, no expiry. It keeps
working as long as the delivery row is kept (400 days), far beyond the 60 days the law asks for;
a rotated SECRET_KEY still reads it when the old key is listed in SECRET_KEY_FALLBACKS.

The page a GET shows is built from the cache when it holds it (one entry, no database statement):
what it names (the organisation, the masked address) for ten minutes, whether the address is
already suppressed for one minute only, so a suppression lifted elsewhere (the preference centre)
shows here within a minute. The POST always reads and writes the tables, in one transaction.
"""

import logging
import re
import time
import uuid
from dataclasses import dataclass
from functools import lru_cache

from django.conf import settings
from django.core import signing
from django.core.cache import cache
from django.db import transaction
from django.db.models import Exists, Q
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

from .models import Campaign, Delivery

logger = logging.getLogger(__name__)

SALT = "infolettre.campaigns.unsubscribe"
MESSAGE_ID = re.compile(r"[0-9a-f]{32}")

# How an unsubscribe arrived; logged as a count, never with the address.
PAGE = "page"
ONE_CLICK = "one_click"
MAILTO = "mailto"

# How long the GET page's facts are kept in the cache (see the module's docstring).
PAGE_SECONDS = 600
STATE_SECONDS = 60


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


def _message_id(token):
    try:
        hex_id = _signer().unsign(token).lower()
    except signing.BadSignature:
        raise InvalidLink(_("This unsubscribe link is damaged.")) from None
    if not MESSAGE_ID.fullmatch(hex_id):
        raise InvalidLink(_("This unsubscribe link is no longer valid."))
    return hex_id


def _known(delivery):
    if delivery is None:
        raise InvalidLink(_("This unsubscribe link is no longer valid."))
    return delivery


def read_token(token):
    """The delivery an unsubscribe token was made for; InvalidLink when it was altered or is unknown."""
    return _known(delivery_for_message_id(_message_id(token)))


# What the page and its POST read of the organisation: not its encrypted phone and fax, nor the
# campaign's HTML, which a delivery read whole would bring along.
_NAMED = ("tenant__name", "tenant__address", "tenant__website")


def read_token_to_unsubscribe(token):
    """As read_token, reading only what unsubscribing and its page need."""
    hex_id = _message_id(token)
    return _known(
        Delivery.unscoped.select_related("tenant")
        .only("tenant_id", "campaign_id", "contact_id", "email", "message_id", *_NAMED)
        .filter(message_id=uuid.UUID(hex_id))
        .first()
    )


@dataclass(frozen=True)
class PageFacts:
    """What the unsubscribe page names: the organisation (name, address, website), the masked
    address, and whether the address is suppressed already."""

    organisation: dict
    masked_email: str
    unsubscribed: bool


def _page_key(hex_id):
    return f"unsubscribe:page:{hex_id}"


def _named(tenant_id, email, name, address, website):
    return {
        "organisation": {"name": name, "address": address, "website": website},
        "masked_email": mask_email(email),
        "tenant_id": tenant_id,
        # A keyed hash, not the address: enough to look the suppression up again.
        "email_hash": suppression_hash(email),
        "named_at": time.time(),
    }


def _named_by(delivery):
    tenant = delivery.tenant
    return _named(delivery.tenant_id, delivery.email, tenant.name, tenant.address, tenant.website)


def _suppressed(tenant_id, email_hash):
    return Suppression.unscoped.filter(tenant_id=tenant_id, email_hash=email_hash).exists()


def _remember(hex_id, named, unsubscribed):
    """Keep the page's facts in one entry, each with the time it was read."""
    entry = {**named, "unsubscribed": unsubscribed, "checked_at": time.time()}
    left = PAGE_SECONDS - (entry["checked_at"] - named["named_at"])
    cache.set(_page_key(hex_id), entry, max(1, round(left)))


def read_page(token):
    """What the GET page shows for a token, from the cache when it has it; InvalidLink as read_token."""
    hex_id = _message_id(token)
    entry = cache.get(_page_key(hex_id))
    now = time.time()
    if entry is None or now - entry["named_at"] >= PAGE_SECONDS:
        found = _known(
            Delivery.unscoped.filter(message_id=uuid.UUID(hex_id))
            .values_list("tenant_id", "email", *_NAMED)
            .first()
        )
        entry = _named(*found)
    if "checked_at" not in entry or now - entry["checked_at"] >= STATE_SECONDS:
        entry["unsubscribed"] = _suppressed(entry["tenant_id"], entry["email_hash"])
        _remember(hex_id, entry, entry["unsubscribed"])
    return PageFacts(entry["organisation"], entry["masked_email"], entry["unsubscribed"])


def page_facts(delivery):
    """What the page names after a POST: the address is unsubscribed."""
    named = _named_by(delivery)
    return PageFacts(named["organisation"], named["masked_email"], True)


def mask_email(email):
    """j***@example.com: enough for a person to recognise their address, not to read it."""
    local, _at, domain = email.partition("@")
    return f"{local[:1]}***@{domain}"


def _subscriptions(delivery):
    """The recipient's current subscriptions to the campaign's lists, read in one statement."""
    contact_id = delivery.contact_id
    if contact_id is None:
        # The contact was erased or unlinked; one added again with the same address is the person.
        contact_id = (
            Contact.unscoped.filter(tenant_id=delivery.tenant_id, email__iexact=delivery.email)
            .values_list("pk", flat=True)
            .first()
        )
    if contact_id is None:
        return Subscription.unscoped.none()
    campaign_lists = Campaign.lists.through.objects.filter(campaign_id=delivery.campaign_id).values(
        "mailinglist_id"
    )
    return (
        Subscription.unscoped.filter(tenant_id=delivery.tenant_id, contact_id=contact_id)
        # A campaign without lists went to every list.
        .filter(Q(mailing_list_id__in=campaign_lists) | ~Exists(campaign_lists))
        .exclude(status=SubscriptionStatus.UNSUBSCRIBED)
    )


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
        # The page opened again says so at once, without the database.
        hex_id, named = delivery.message_id.hex, _named_by(delivery)
        transaction.on_commit(lambda: _remember(hex_id, named, True))
    logger.info("Unsubscribe received (%s) for tenant %s", source, delivery.tenant_id)
