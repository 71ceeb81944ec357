"""Reads scoped to the active organisation: another tenant's id is simply not found."""

from django.db.models import Case, Count, Exists, IntegerField, OuterRef, Q, Value, When
from django.utils import timezone

from infolettre import counts
from infolettre.accounts.tenancy import active_tenant_id
from infolettre.accounts.validation import check_phone
from infolettre.counts import COUNT_SECONDS, cache_key, cached_figures, counted
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


LIST_FIGURES = ("subscribed_count", "unconfirmed_count", "lapsing_count")
NO_FIGURES = dict.fromkeys(LIST_FIGURES, 0)


def _count_lists():
    ids = list(MailingList.objects.values_list("pk", flat=True))
    figures = {pk: dict(NO_FIGURES) for pk in ids}
    # The lists are the organisation's, so their subscriptions need no tenant condition: PostgreSQL
    # counts them from the (list, status) index alone, without reading a row.
    by_status = (
        Subscription.unscoped.filter(
            mailing_list_id__in=ids,
            status__in=(SubscriptionStatus.SUBSCRIBED, SubscriptionStatus.UNCONFIRMED),
        )
        .values_list("mailing_list_id", "status")
        .annotate(n=Count("*"))
        .order_by()
    )
    for list_id, status, n in by_status:
        figures[list_id][f"{status}_count"] = n
    now = timezone.now()
    lapsing = (
        Subscription.unscoped.filter(
            mailing_list_id__in=ids,
            status=SubscriptionStatus.SUBSCRIBED,
            consent_expires_at__gt=now,
            consent_expires_at__lte=now + LAPSE_WARNING,
        )
        .values_list("mailing_list_id")
        .annotate(n=Count("*"))
        .order_by()
    )
    for list_id, n in lapsing:
        if list_id in figures:
            figures[list_id]["lapsing_count"] = n
    return figures


def list_counts(counting=False):
    """Each list's number of subscribed, unconfirmed and soon-lapsing contacts, by list id.

    Exact while the organisation's lists hold fewer than EXACT_BELOW subscriptions in all; beyond,
    the figures are at most COUNT_SECONDS old. A list created since has none yet. With
    `counting`, COUNTING while a big organisation's figures are not kept yet (counted after the
    answer: see infolettre.counts).
    """
    tenant_id = active_tenant_id()
    return cached_figures(
        cache_key("audience:list-counts", tenant_id),
        _count_lists,
        COUNT_SECONDS,
        lambda figures: sum(
            f["subscribed_count"] + f["unconfirmed_count"] for f in figures.values()
        ),
        (lambda: counts.at_least(Subscription.objects.all(), counts.EXACT_BELOW))
        if counting
        else None,
    )


def lists_with_counts():
    """Each list with its number of subscribed, unconfirmed and soon-lapsing contacts (list_counts)."""
    figures = list_counts()
    return MailingList.objects.annotate(
        **{
            name: Case(
                *(When(pk=pk, then=Value(counts[name])) for pk, counts in figures.items()),
                default=Value(0),
                output_field=IntegerField(),
            )
            for name in LIST_FIGURES
        }
    )


def list_subscriptions(mailing_list):
    """The subscriptions of one of the organisation's lists (found by access_list_for_tenant)."""
    # The list is the organisation's: its subscriptions need no tenant condition of their own,
    # which lets PostgreSQL count them from the (list, status) index alone.
    return Subscription.unscoped.filter(mailing_list=mailing_list)


def contacts_with_phone(phone):
    """The organisation's contacts with this mobile number (as typed: it is normalised first),
    found by the keyed hash beside the encrypted number. An invalid number finds no one."""
    try:
        number = check_phone(phone)
    except Invalid:
        return Contact.objects.none()
    return Contact.objects.filter(phone_hash=Contact._meta.get_field("phone_hash").hash_for(number))


def search_contacts(text="", mailing_list=None):
    """The organisation's contacts whose address or name holds `text`, on `mailing_list` if given.

    On PostgreSQL the search reads the trigram indexes of addresses and names (migration 0005).
    Their number (count()) is kept like other big figures (infolettre.counts).
    """
    contacts = counted(Contact.objects.all())
    if text:
        contacts = contacts.filter(Q(email__icontains=text) | Q(name__icontains=text))
    if mailing_list is not None:
        on_list = Subscription.unscoped.filter(mailing_list=mailing_list, contact=OuterRef("pk"))
        contacts = contacts.filter(Exists(on_list))
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


def sendable_contacts(mailing_lists=(), now=None, within=None):
    """The contacts with a sendable subscription on any of `mailing_lists` (on any list if none),
    among `within` (a queryset of the organisation's contacts, such as a segment's) if given.

    The same rule as sendable_subscriptions, written on the contacts: their own address is checked
    against the suppression list, and their subscriptions are looked up with EXISTS, in the same
    statement as `within`'s conditions, so that a narrow segment's few contacts are each looked up
    on their lists instead of every sendable subscription being read first.
    """
    now = now or timezone.now()
    # Each subscription looked up is the organisation's, being one of its contacts': without a
    # tenant condition, PostgreSQL answers from the index of sendable subscriptions alone
    # (migration 0006).
    subscriptions = Subscription.unscoped.filter(
        Q(consent_expires_at__isnull=True) | Q(consent_expires_at__gt=now),
        contact=OuterRef("pk"),
        status=SubscriptionStatus.SUBSCRIBED,
    )
    if mailing_lists:
        subscriptions = subscriptions.filter(mailing_list__in=mailing_lists)
    contacts = Contact.objects.all() if within is None else within
    return contacts.filter(Exists(subscriptions)).exclude(
        email__in=Suppression.objects.exclude(email="").values("email")
    )


def suppressions():
    return Suppression.objects.all()
