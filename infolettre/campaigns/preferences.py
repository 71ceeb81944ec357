"""The preference centre of a campaign's recipient: their lists, their details, their consent.

The page is reached with the same signed token as the unsubscribe link, so it knows one delivery and,
through it, one contact of one client. Everything here reads and changes that client's rows only: the
same address on another client's lists is another client's business and never appears.

Each change goes through the audience actions, in one transaction, and logs what was done with ids
only (never an address, a name or an attribute).
"""

import logging
from dataclasses import dataclass

from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from infolettre.accounts.tenancy import tenant_scope
from infolettre.audience.actions import (
    do_subscribe,
    do_suppress,
    do_unsubscribe_from_list,
    do_unsuppress,
    do_update_contact,
    suppression_hash,
)
from infolettre.audience.forms import NAME_MAX, attribute_rows, check_attributes
from infolettre.audience.importing import BOOLEAN_WORDS, INTEGER_VALUE, NUMBER_VALUE, TRUE_WORDS
from infolettre.audience.models import (
    ConsentBasis,
    Contact,
    Subscription,
    SubscriptionStatus,
    Suppression,
    SuppressionReason,
)
from infolettre.errors import Conflict, Invalid

logger = logging.getLogger(__name__)

# How the consent of a rejoined list was obtained, as the subscription keeps it.
SOURCE = "preference centre"

# The API accepts at most this many attributes on a contact; a correction keeps to the same rule.
MAX_ATTRIBUTES = 50

ACTIVE = (SubscriptionStatus.SUBSCRIBED, SubscriptionStatus.UNCONFIRMED)


class RejoinRefused(Conflict):
    """The address is suppressed for a reason that is not the person's own unsubscribe."""

    code = "rejoin_refused"
    message = gettext_lazy(
        "This address cannot be put back on a list from this page: messages to it were refused "
        "or reported. Write to the organisation if you want to receive them again."
    )


class NotYourList(Invalid):
    code = "not_your_list"
    message = gettext_lazy("This list is not one of yours: nothing was changed.")


# Why each suppression reason blocks a rejoin, in the words the person reads.
REFUSALS = {
    SuppressionReason.BOUNCED: gettext_lazy(
        "Your address cannot be put back on a list from this page: messages to it were refused by "
        "your mail server, so it is blocked to protect the sender's reputation and your mailbox. "
        "Write to the organisation if you want to receive its messages again."
    ),
    SuppressionReason.COMPLAINED: gettext_lazy(
        "Your address cannot be put back on a list from this page: one of the organisation's "
        "messages was reported as spam from this mailbox, so it is blocked. Write to the "
        "organisation if you want to receive its messages again."
    ),
    SuppressionReason.MANUAL: gettext_lazy(
        "Your address cannot be put back on a list from this page: the organisation itself put it "
        "on its list of addresses never to mail. Write to the organisation if you want to receive "
        "its messages again."
    ),
}


@dataclass
class Recipient:
    """The person behind a delivery, as their client holds them: a contact, or nothing any more."""

    delivery: object
    contact: Contact | None

    @property
    def tenant(self):
        return self.delivery.tenant

    @property
    def addresses(self):
        """The person's addresses: the one mailed, and the contact's if it was corrected since."""
        found = {self.delivery.email.strip().lower()} - {""}
        if self.contact is not None:
            found.add(self.contact.email)
        return sorted(found)


def recipient_for(delivery):
    """The delivery's contact, within the delivery's client only."""
    contact = delivery.contact
    if contact is not None and contact.tenant_id != delivery.tenant_id:
        contact = None
    if contact is None and delivery.email:
        # Unlinked (erased, or deleted by the client): one added again with the address is the person.
        contact = Contact.unscoped.filter(
            tenant_id=delivery.tenant_id, email__iexact=delivery.email
        ).first()
    return Recipient(delivery=delivery, contact=contact)


def subscriptions_of(recipient):
    """The contact's subscriptions to their client's lists, by list name."""
    if recipient.contact is None:
        return []
    return list(
        Subscription.unscoped.filter(tenant_id=recipient.tenant.pk, contact=recipient.contact)
        .select_related("mailing_list")
        .order_by("mailing_list__name", "mailing_list_id")
    )


def subscription_of(recipient, list_id):
    """The contact's subscription to one list of their client; NotYourList for any other list."""
    try:
        list_id = int(list_id)
    except (TypeError, ValueError):
        raise NotYourList() from None
    if recipient.contact is None:
        raise NotYourList()
    subscription = (
        Subscription.unscoped.filter(
            tenant_id=recipient.tenant.pk, contact=recipient.contact, mailing_list_id=list_id
        )
        .select_related("mailing_list")
        .first()
    )
    if subscription is None:
        raise NotYourList()
    return subscription


def suppressions_of(recipient):
    """The client's suppressions of the person's addresses (usually none or one)."""
    hashes = [suppression_hash(email) for email in recipient.addresses]
    return list(Suppression.unscoped.filter(tenant_id=recipient.tenant.pk, email_hash__in=hashes))


def blocking_suppression(suppressions):
    """The suppression that the person cannot lift themselves, if any."""
    for suppression in suppressions:
        if suppression.reason != SuppressionReason.UNSUBSCRIBED:
            return suppression
    return None


def refusal_message(suppression):
    return REFUSALS.get(suppression.reason, RejoinRefused.message)


def rejoin_wording(mailing_list):
    """The words of the rejoin button, kept as the proof of the new consent."""
    return _("Yes, send me the messages of the list “%(list)s” again") % {"list": mailing_list.name}


def can_rejoin(subscription, suppressions):
    """Whether the page offers to rejoin: a list left, or one paused by the person's own stop."""
    if blocking_suppression(suppressions) is not None:
        return False
    return subscription.status == SubscriptionStatus.UNSUBSCRIBED or bool(suppressions)


# Checks of what the page sent back ----------------------------------------------------------------


def _typed(original, value):
    """A changed value in the type of the stored one; None when the text does not fit that type."""
    if isinstance(original, bool):
        return value.lower() in TRUE_WORDS if value.lower() in BOOLEAN_WORDS else None
    if isinstance(original, int):
        return int(value) if INTEGER_VALUE.fullmatch(value) else None
    if isinstance(original, float):
        return float(value.replace(",", ".")) if NUMBER_VALUE.fullmatch(value) else None
    return value


TYPE_HINTS = {
    bool: gettext_lazy("yes or no"),
    int: gettext_lazy("a whole number"),
    float: gettext_lazy("a number"),
}


def check_correction(post, contact):
    """Check the name and attribute rows sent back; return (values, errors by input name).

    The attribute rules are the contact page's (audience.forms.check_attributes): names of lower-case
    letters, digits and underscores, no name twice, bounded values; a row left as shown keeps its
    stored value and type, and a changed value of a number or a yes/no must still be one.
    """
    errors = {}
    # The page always sends both inputs; a request without one leaves that part as it is.
    name = (post.get("name", contact.name) or "").strip()
    if len(name) > NAME_MAX:
        errors["name"] = _("Use at most %(limit)d characters.") % {"limit": NAME_MAX}
    original = contact.attributes or {}
    if "attribute_key" not in post and "attribute_value" not in post:
        return {"name": name, "attributes": original}, errors
    attributes, problem = check_attributes(post, original)
    problems = [problem] if problem else []
    for key, value in list(attributes.items()):
        if key not in original or value is original[key] or not isinstance(value, str):
            continue
        typed = _typed(original[key], value)
        if typed is None:
            problems.append(
                _("The value of “%(key)s” must be %(kind)s.")
                % {"key": key, "kind": TYPE_HINTS[type(original[key])]}
            )
        else:
            attributes[key] = typed
    if len(attributes) > MAX_ATTRIBUTES:
        problems.append(
            _("Keep at most %(limit)d attributes.") % {"limit": MAX_ATTRIBUTES},
        )
    if problems:
        errors["attributes"] = " ".join(str(p) for p in problems)
    return {"name": name, "attributes": attributes}, errors


def correction_rows(contact, post=None):
    """The attribute rows of the page: as stored, or as sent back when the page refused them."""
    if post is not None:
        return attribute_rows(post=post)
    return attribute_rows(contact.attributes)


# Actions ------------------------------------------------------------------------------------------


def _log(action, recipient, **ids):
    details = "".join(f" {name} {value}" for name, value in ids.items())
    logger.info(
        "Preference centre: %s for tenant %s contact %s%s",
        action,
        recipient.tenant.pk,
        recipient.contact.pk if recipient.contact else None,
        details,
    )


def do_leave_list(recipient, subscription):
    """Leave one list; leaving it again changes nothing."""
    with tenant_scope(recipient.tenant), transaction.atomic():
        do_unsubscribe_from_list(subscription)
    _log("leave", recipient, list=subscription.mailing_list_id)
    return subscription


def do_rejoin_list(recipient, subscription, *, wording):
    """Put the person back on a list they left, as a new express consent given on this page.

    A suppression is lifted only when it records the person's own unsubscribe; lifting it must not
    restart their other lists, so those they had not left are left now, as their "stop everything"
    asked. A bounce, a complaint or the client's own suppression refuses the rejoin (RejoinRefused).
    Rejoining a list the person is on already changes nothing. Return the subscription and whether
    a suppression was lifted.
    """
    with tenant_scope(recipient.tenant), transaction.atomic():
        suppressions = suppressions_of(recipient)
        blocking = blocking_suppression(suppressions)
        if blocking is not None:
            raise RejoinRefused(refusal_message(blocking))
        if subscription.status == SubscriptionStatus.SUBSCRIBED and not suppressions:
            return subscription, False
        if suppressions:
            for other in subscriptions_of(recipient):
                if other.pk != subscription.pk and other.status in ACTIVE:
                    do_unsubscribe_from_list(other)
            for suppression in suppressions:
                do_unsuppress(suppression)
        # The signed link proves the person reads this address: no second confirmation is asked.
        subscription = do_subscribe(
            recipient.contact,
            subscription.mailing_list,
            basis=ConsentBasis.EXPRESS,
            source=SOURCE,
            wording=wording,
            confirmed=True,
        )
    _log("rejoin", recipient, list=subscription.mailing_list_id, lifted=len(suppressions))
    return subscription, bool(suppressions)


def do_correct_contact(recipient, *, name, attributes):
    """Save the person's corrected name and attributes; the same values again change nothing."""
    contact = recipient.contact
    changed = {}
    if name != contact.name:
        changed["name"] = name
    if attributes != contact.attributes:
        changed["attributes"] = attributes
    if changed:
        with tenant_scope(recipient.tenant), transaction.atomic():
            do_update_contact(contact, **changed)
    _log("correct", recipient, fields=len(changed))
    return contact


def do_withdraw_all_consent(recipient):
    """Leave every list of the client and suppress the person's addresses for this client only.

    Saying it again changes nothing; an erased contact is still suppressed by the mailed address.
    """
    with tenant_scope(recipient.tenant), transaction.atomic():
        left = 0
        for subscription in subscriptions_of(recipient):
            if subscription.status in ACTIVE:
                do_unsubscribe_from_list(subscription)
                left += 1
        for email in recipient.addresses:
            do_suppress(recipient.tenant, email, SuppressionReason.UNSUBSCRIBED)
    _log("withdraw", recipient, lists=left)
