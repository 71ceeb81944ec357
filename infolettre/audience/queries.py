"""Reads scoped to the active organisation: another tenant's id is simply not found."""

from django.db.models import Count, Q
from django.utils import timezone

from infolettre.accounts.validation import check_phone
from infolettre.errors import Invalid

from .consent import LAPSE_WARNING
from .models import (
    Contact,
    ContactImport,
    MailingList,
    Segment,
    Subscription,
    SubscriptionStatus,
    Suppression,
)


def access_list_for_tenant(list_id):
    return MailingList.objects.access(list_id)


def access_contact_for_tenant(contact_id):
    return Contact.objects.access(contact_id)


def access_subscription_for_tenant(subscription_id):
    return Subscription.objects.access(subscription_id)


def access_suppression_for_tenant(suppression_id):
    return Suppression.objects.access(suppression_id)


def access_import_for_tenant(import_id):
    return ContactImport.objects.access(import_id)


def access_segment_for_tenant(segment_id):
    return Segment.objects.access(segment_id)


def lists_with_counts():
    """Each list with its number of subscribed, unconfirmed and soon-lapsing contacts."""
    now = timezone.now()
    subscribed = Q(subscriptions__status=SubscriptionStatus.SUBSCRIBED)
    return MailingList.objects.annotate(
        subscribed_count=Count("subscriptions", filter=subscribed),
        unconfirmed_count=Count(
            "subscriptions", filter=Q(subscriptions__status=SubscriptionStatus.UNCONFIRMED)
        ),
        lapsing_count=Count(
            "subscriptions",
            filter=subscribed
            & Q(
                subscriptions__consent_expires_at__gt=now,
                subscriptions__consent_expires_at__lte=now + LAPSE_WARNING,
            ),
        ),
    )


def contacts_with_phone(phone):
    """The organisation's contacts with this mobile number (as typed: it is normalised first),
    found by the keyed hash beside the encrypted number. An invalid number finds no one."""
    try:
        number = check_phone(phone)
    except Invalid:
        return Contact.objects.none()
    return Contact.objects.filter(phone_hash=Contact._meta.get_field("phone_hash").hash_for(number))


def search_contacts(text="", mailing_list=None):
    contacts = Contact.objects.all()
    if text:
        contacts = contacts.filter(Q(email__icontains=text) | Q(name__icontains=text))
    if mailing_list is not None:
        contacts = contacts.filter(subscriptions__mailing_list=mailing_list)
    return contacts


def sendable_subscriptions(mailing_list=None, now=None):
    """Who may receive a commercial message now: subscribed, consent current, not suppressed.

    Limited to `mailing_list` when given. A suppressed address is matched by its address here; an
    erased one (hash only) has no contact left, and the hash keeps it from coming back through a
    form or an import.
    """
    now = now or timezone.now()
    subscriptions = (
        Subscription.objects.filter(status=SubscriptionStatus.SUBSCRIBED)
        .filter(Q(consent_expires_at__isnull=True) | Q(consent_expires_at__gt=now))
        .exclude(contact__email__in=Suppression.objects.exclude(email="").values("email"))
    )
    return (
        subscriptions if mailing_list is None else subscriptions.filter(mailing_list=mailing_list)
    )


def sendable_contacts(mailing_lists=(), now=None):
    """The contacts with a sendable subscription on any of `mailing_lists` (on any list if none)."""
    subscriptions = sendable_subscriptions(now=now)
    if mailing_lists:
        subscriptions = subscriptions.filter(mailing_list__in=mailing_lists)
    return Contact.objects.filter(pk__in=subscriptions.values("contact_id"))


def suppressions():
    return Suppression.objects.all()
