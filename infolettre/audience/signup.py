"""The public, double opt-in sign-up form of a list: what it says, who may post it, and the link that confirms.

The form runs without a signed-in user: every read names the list's organisation, and every write
happens inside that organisation's scope. The confirmation link carries the subscription's id and a
keyed digest of the address, never the address itself.
"""

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.tasks import task
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _

from infolettre.accounts.errors import AccountNotConfirmed, InvalidLink
from infolettre.accounts.models import User
from infolettre.accounts.tenancy import tenant_scope
from infolettre.accounts.tokens import address_digest, make_address_token, read_address_token
from infolettre.errors import NotFound, Throttled
from infolettre.messaging.email import MessageKind, send_email
from infolettre.privacy.pseudonymise import keyed_hash, truncate_ip

from .actions import check_not_suppressed, do_confirm_subscription, do_create_contact, do_subscribe
from .errors import AddressSuppressed, ContactExists
from .models import ConsentBasis, Contact, MailingList, Subscription, SubscriptionStatus

SIGNUP_SALT = "infolettre.audience.signup-confirmation"
# A week: long enough for a message that waits in a spam folder over a weekend.
SIGNUP_CONFIRMATION_MAX_AGE = 60 * 60 * 24 * 7
# Sign-up attempts per network (a /24 or a /48) per hour: an office shares one address.
SIGNUP_NETWORK_LIMIT = 20
SIGNUP_NETWORK_WINDOW = 60 * 60
# The same subscription is sent at most one confirmation message in this time.
CONFIRMATION_RESEND_INTERVAL = 10 * 60
# The hidden input that people never see and robots fill in.
HONEYPOT = "website"


def hosted_url(mailing_list):
    return f"{settings.SITE_URL}{reverse('audience:public_signup', args=[mailing_list.public_key])}"


def signup_list(public_key):
    """The list behind a hosted form: unknown keys, closed forms and closed accounts are not found."""
    mailing_list = (
        MailingList.unscoped.select_related("tenant")
        .filter(public_key=public_key, public_signup=True, tenant__closed_at__isnull=True)
        .first()
    )
    if mailing_list is None:
        raise NotFound()
    return mailing_list


def check_tenant_can_send(tenant):
    """Nothing leaves on behalf of an organisation until one of its people has confirmed an address."""
    if not User.objects.filter(
        tenant=tenant, is_active=True, email_confirmed_at__isnull=False
    ).exists():
        raise AccountNotConfirmed()


def one_line(text):
    return " ".join(str(text).split())


def sender_identity(organisation):
    """Who asks for consent, with a mailing address and a web address, as the anti-spam law requires."""
    return _("%(name)s, %(address)s, %(website)s") % {
        "name": organisation.name,
        "address": one_line(organisation.address),
        "website": organisation.website,
    }


def consent_words(mailing_list):
    """The exact words beside the consent box, in the active language; kept as the proof of consent."""
    return _(
        "I agree to receive “%(list)s” by email from %(sender)s. I can withdraw my consent at any "
        "time with the unsubscribe link at the bottom of every message."
    ) % {"list": mailing_list.name, "sender": sender_identity(mailing_list.tenant)}


def _network_key(ip):
    return f"signup:n:{keyed_hash(truncate_ip(ip or ''), 'signup-throttle')}"


def check_signup_rate(ip):
    """Count one sign-up attempt from this network; refuse past the hourly allowance.

    Only a keyed hash of the truncated address is kept, and only for the window.
    """
    key = _network_key(ip)
    if cache.add(key, 1, SIGNUP_NETWORK_WINDOW):
        return
    try:
        count = cache.incr(key)
    except ValueError:
        cache.set(key, 1, SIGNUP_NETWORK_WINDOW)
        return
    if count > SIGNUP_NETWORK_LIMIT:
        raise Throttled()


def _find_or_create_contact(tenant, email, name):
    """The organisation's contact with this address; an existing one is left as it is.

    A stranger may type anyone's address into a public form, so the form never changes a contact.
    """
    contact = Contact.objects.filter(email=email).first()
    if contact is not None:
        return contact
    try:
        return do_create_contact(tenant, email=email, name=name)
    except ContactExists:
        return Contact.objects.get(email=email)


@transaction.atomic
def do_public_signup(mailing_list, *, email, name, wording, language):
    """Record a sign-up from the hosted form; return the subscription, or None when nothing changed.

    A suppressed address and one already subscribed get nothing, and the caller answers as for any
    other sign-up, so that the form reveals neither the suppression list nor who is on the list.
    A double opt-in list keeps the subscription unconfirmed and mails the confirmation link.
    """
    with tenant_scope(mailing_list.tenant):
        try:
            check_not_suppressed(mailing_list.tenant_id, email)
        except AddressSuppressed:
            return None
        contact = _find_or_create_contact(mailing_list.tenant, email, name)
        existing = Subscription.objects.filter(contact=contact, mailing_list=mailing_list).first()
        if existing is not None and existing.status == SubscriptionStatus.SUBSCRIBED:
            return None
        subscription = do_subscribe(
            contact,
            mailing_list,
            basis=ConsentBasis.EXPRESS,
            source=hosted_url(mailing_list),
            wording=wording,
            confirmed=not mailing_list.double_opt_in,
        )
    if mailing_list.double_opt_in:
        transaction.on_commit(lambda: send_signup_confirmation.enqueue(subscription.pk, language))
    return subscription


def make_signup_token(subscription):
    return make_address_token(subscription.pk, subscription.contact.email, SIGNUP_SALT)


def read_signup_token(token):
    return read_address_token(token, SIGNUP_SALT, SIGNUP_CONFIRMATION_MAX_AGE)


def subscription_from_link(token):
    """The subscription a confirmation link names, if the link is valid and still means something.

    The address must be the one the link was sent to, the person must not have left the list since,
    and the address must not have been suppressed.
    """
    subscription_id, digest = read_signup_token(token)
    subscription = (
        Subscription.unscoped.select_related("contact", "mailing_list__tenant", "tenant")
        .filter(pk=subscription_id)
        .exclude(status=SubscriptionStatus.UNSUBSCRIBED)
        .first()
    )
    if subscription is None or address_digest(subscription.contact.email) != digest:
        raise InvalidLink()
    try:
        check_not_suppressed(subscription.tenant_id, subscription.contact.email)
    except AddressSuppressed:
        raise InvalidLink() from None
    return subscription


@transaction.atomic
def do_confirm_signup(token):
    """Confirm the subscription a valid link names; confirming twice changes nothing."""
    subscription = subscription_from_link(token)
    with tenant_scope(subscription.tenant):
        return do_confirm_subscription(subscription)


def confirmation_link(subscription):
    return f"{settings.SITE_URL}{reverse('audience:confirm_subscription', args=[make_signup_token(subscription)])}"


@task()
def send_signup_confirmation(subscription_id, language=None):
    """Mail the double opt-in link of an unconfirmed subscription, at most once in a short while."""
    subscription = (
        Subscription.unscoped.select_related("contact", "mailing_list", "tenant")
        .filter(pk=subscription_id, status=SubscriptionStatus.UNCONFIRMED)
        .first()
    )
    if subscription is None:
        return
    try:
        check_not_suppressed(subscription.tenant_id, subscription.contact.email)
        check_tenant_can_send(subscription.tenant)
    except (AddressSuppressed, AccountNotConfirmed):
        return
    if not cache.add(f"signup:sent:{subscription.pk}", 1, CONFIRMATION_RESEND_INTERVAL):
        return
    languages = dict(settings.LANGUAGES)
    language = language if language in languages else settings.LANGUAGE_CODE
    with translation.override(language):
        sender = sender_identity(subscription.tenant)
    send_email(
        kind=MessageKind.ACCOUNT,
        to=subscription.contact.email,
        template="audience/email/signup_confirmation",
        context={
            "contact": subscription.contact,
            "mailing_list": subscription.mailing_list,
            "organisation": subscription.tenant,
            "sender": sender,
            "link": confirmation_link(subscription),
        },
        language=language,
    )
