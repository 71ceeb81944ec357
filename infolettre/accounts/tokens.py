"""Signed links and API tokens: nothing guessable, nothing stored that would let someone sign in."""

import hashlib
import secrets

from django.conf import settings
from django.core import signing

from infolettre.privacy.pseudonymise import keyed_hash

from .errors import InvalidLink

CONFIRM_SALT = "infolettre.accounts.confirm-email"
INVITATION_SALT = "infolettre.accounts.invitation"


def address_digest(email):
    """A short keyed digest of an address: a link stops working once the address changes, and
    the link itself (which ends up in browser histories and proxy logs) does not carry it."""
    return keyed_hash(email, "link-address")[:16]


def make_address_token(object_id, email, salt):
    """A signed link naming one object and (by digest) the address it was sent to."""
    return signing.dumps({"i": object_id, "a": address_digest(email)}, salt=salt)


def read_address_token(token, salt, max_age):
    """Return (object id, address digest) of a valid, unexpired link made by make_address_token."""
    try:
        data = signing.loads(token, salt=salt, max_age=max_age)
        return int(data["i"]), str(data["a"])
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        raise InvalidLink() from None


def make_confirmation_token(user):
    return make_address_token(user.pk, user.email, CONFIRM_SALT)


def read_confirmation_token(token):
    return read_address_token(token, CONFIRM_SALT, settings.EMAIL_CONFIRMATION_MAX_AGE)


def make_invitation_token(invitation):
    return make_address_token(invitation.pk, invitation.email, INVITATION_SALT)


def read_invitation_token(token):
    return read_address_token(token, INVITATION_SALT, settings.INVITATION_MAX_AGE)


API_TOKEN_PREFIX = "inf_"  # noqa: S105 (a prefix, not a secret)


def new_api_token():
    """Return (the token shown once, its lookup prefix, its stored digest)."""
    raw = API_TOKEN_PREFIX + secrets.token_urlsafe(32)
    return raw, raw[len(API_TOKEN_PREFIX) : len(API_TOKEN_PREFIX) + 8], api_token_digest(raw)


def api_token_digest(raw):
    return hashlib.sha256(raw.encode()).hexdigest()
