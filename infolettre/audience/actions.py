"""Every change of state of lists, contacts, subscriptions and the suppression list."""

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from infolettre.privacy.disclosures import do_pass_on_correction
from infolettre.privacy.pseudonymise import keyed_hash
from infolettre.webhooks import events as webhook_events

from .consent import consent_expiry
from .errors import AddressSuppressed, ContactExists, ListNameTaken
from .models import (
    ConsentBasis,
    Contact,
    MailingList,
    Subscription,
    SubscriptionStatus,
    Suppression,
    SuppressionReason,
)

LIST_FIELDS = ("name", "description", "double_opt_in", "public_signup")
CONTACT_FIELDS = ("email", "name", "phone", "attributes")


def suppression_hash(email):
    return keyed_hash(email.strip().lower(), "suppression")


def _save_unique(instance, error, **save_kwargs):
    try:
        with transaction.atomic():
            instance.save(**save_kwargs)
    except IntegrityError:
        raise error() from None
    return instance


def do_create_list(tenant, **fields):
    return _save_unique(MailingList(tenant=tenant, **fields), ListNameTaken)


def do_update_list(mailing_list, **fields):
    for name, value in fields.items():
        setattr(mailing_list, name, value)
    return _save_unique(mailing_list, ListNameTaken, update_fields=list(fields))


def do_delete_list(mailing_list):
    """Delete a list and its subscriptions; the contacts stay, with their other lists."""
    mailing_list.delete()


def do_create_contact(tenant, *, email, name="", phone="", attributes=None):
    contact = Contact(
        tenant=tenant, email=email, name=name, phone=phone, attributes=attributes or {}
    )
    return _save_unique(contact, ContactExists)


def do_update_contact(contact, **fields):
    """Correct a contact's data; a new address must not be another contact's."""
    before, corrected = contact.email, [k for k, v in fields.items() if getattr(contact, k) != v]
    for name, value in fields.items():
        setattr(contact, name, value)
    contact.updated_at = timezone.now()
    _save_unique(contact, ContactExists, update_fields=[*fields, "updated_at"])
    do_pass_on_correction(before, "audience.Contact", corrected, tenant_id=contact.tenant_id)
    return contact


def do_delete_contact(contact):
    contact.delete()


def check_not_suppressed(tenant_id, email):
    if Suppression.unscoped.filter(
        tenant_id=tenant_id, email_hash=suppression_hash(email)
    ).exists():
        raise AddressSuppressed()


@transaction.atomic
def do_subscribe(
    contact,
    mailing_list,
    *,
    basis=ConsentBasis.EXPRESS,
    consent_at=None,
    source,
    wording="",
    confirmed=True,
):
    """Put a contact on a list with the proof of consent; a confirmed sign-up is mailed at once."""
    check_not_suppressed(contact.tenant_id, contact.email)
    consent_at = consent_at or timezone.now()
    now = timezone.now()
    values = {
        "tenant_id": contact.tenant_id,
        "status": SubscriptionStatus.SUBSCRIBED if confirmed else SubscriptionStatus.UNCONFIRMED,
        "consent_basis": basis,
        "consent_at": consent_at,
        "consent_expires_at": consent_expiry(basis, consent_at),
        "consent_source": source,
        "consent_wording": str(wording),
        "confirmed_at": now if confirmed else None,
        "unsubscribed_at": None,
    }
    subscription, _ = Subscription.unscoped.update_or_create(
        contact=contact,
        mailing_list=mailing_list,
        defaults=values,
        create_defaults={**values, "created_at": now},
    )
    webhook_events.emit_subscribe(subscription)
    return subscription


def do_confirm_subscription(subscription):
    """The person confirmed their address from the double opt-in message."""
    if subscription.status == SubscriptionStatus.UNCONFIRMED:
        subscription.status = SubscriptionStatus.SUBSCRIBED
        subscription.confirmed_at = timezone.now()
        subscription.save(update_fields=["status", "confirmed_at"])
        webhook_events.emit_subscribe(subscription)
    return subscription


def do_unsubscribe_from_list(subscription):
    """Leave one list; the address may still be on the client's other lists."""
    if subscription.status != SubscriptionStatus.UNSUBSCRIBED:
        subscription.status = SubscriptionStatus.UNSUBSCRIBED
        subscription.unsubscribed_at = timezone.now()
        subscription.save(update_fields=["status", "unsubscribed_at"])
        webhook_events.emit_unsubscribe(subscription)
    return subscription


def do_suppress(tenant, email, reason=SuppressionReason.MANUAL):
    """Never mail this address again for this client; saying it twice changes nothing."""
    email = email.strip().lower()
    suppression, _ = Suppression.unscoped.get_or_create(
        tenant=tenant,
        email_hash=suppression_hash(email),
        defaults={"email": email, "reason": reason},
    )
    return suppression


def do_suppress_by_hash(tenant_id, email):
    """Keep an erased person suppressed by the keyed hash alone, without their address."""
    suppression, _ = Suppression.unscoped.get_or_create(
        tenant_id=tenant_id,
        email_hash=suppression_hash(email),
        defaults={"email": "", "reason": SuppressionReason.UNSUBSCRIBED},
    )
    return suppression


def do_erase_contact(contact, *, by):
    """Erase everything this client holds about one of its contacts, as the client's user `by`
    (named in the audit trail); the keyed hash stays."""
    from infolettre.privacy.erasure import do_erase_person
    from infolettre.privacy.models import ErasureCause

    return do_erase_person(contact.email, by=by, scope=contact.tenant, cause=ErasureCause.CLIENT)


def do_unsuppress(suppression):
    """Lift a suppression added by hand; one that records a person's own choice stays."""
    suppression.delete()


def do_mark_engaged(contact_ids, at):
    """Record that these contacts engaged at `at` (segments read it); a later engagement stays."""
    Contact.unscoped.filter(pk__in=contact_ids).filter(
        Q(engaged_at__isnull=True) | Q(engaged_at__lt=at)
    ).update(engaged_at=at)
