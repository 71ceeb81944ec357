"""The signed links of the operator's messages: none carries an address or a guessable id."""

import uuid

from django.conf import settings
from django.core import signing
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from infolettre.accounts.errors import InvalidLink
from infolettre.accounts.tokens import make_address_token, read_address_token
from infolettre.audience.signup import SIGNUP_CONFIRMATION_MAX_AGE

CONFIRM_SALT = "infolettre.engagement.newsletter-confirmation"
UNSUBSCRIBE_SALT = "infolettre.engagement.unsubscribe"


def make_confirmation_token(subscriber):
    return make_address_token(subscriber.pk, subscriber.email, CONFIRM_SALT)


def read_confirmation_token(token):
    """Return (subscriber id, address digest) of a valid confirmation link, at most a week old."""
    return read_address_token(token, CONFIRM_SALT, SIGNUP_CONFIRMATION_MAX_AGE)


def confirmation_url(subscriber):
    path = reverse("engagement:newsletter_confirm", args=[make_confirmation_token(subscriber)])
    return f"{settings.SITE_URL}{path}"


def _unsubscribe_signer():
    return signing.Signer(salt=UNSUBSCRIBE_SALT)


def make_unsubscribe_token(delivery):
    """Sign the delivery's random token: no expiry, so the link works as long as the record is kept."""
    return _unsubscribe_signer().sign(delivery.token.hex)


def read_unsubscribe_token(token):
    """Return the delivery token an unsubscribe link was made for; InvalidLink when it was altered."""
    try:
        return uuid.UUID(hex=_unsubscribe_signer().unsign(token))
    except (signing.BadSignature, ValueError):
        raise InvalidLink(_("This unsubscribe link is damaged.")) from None


def unsubscribe_url(delivery):
    path = reverse("engagement:unsubscribe", args=[make_unsubscribe_token(delivery)])
    return f"{settings.SITE_URL}{path}"
