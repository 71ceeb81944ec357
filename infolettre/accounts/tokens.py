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


def make_confirmation_token(user):
    return signing.dumps({"u": user.pk, "a": address_digest(user.email)}, salt=CONFIRM_SALT)


def read_confirmation_token(token):
    """Return (user id, address digest) of a valid, unexpired confirmation link."""
    return _read(token, CONFIRM_SALT, settings.EMAIL_CONFIRMATION_MAX_AGE, "u")


def make_invitation_token(invitation):
    return signing.dumps(
        {"i": invitation.pk, "a": address_digest(invitation.email)}, salt=INVITATION_SALT
    )


def read_invitation_token(token):
    """Return (invitation id, address digest) of a valid, unexpired invitation link."""
    return _read(token, INVITATION_SALT, settings.INVITATION_MAX_AGE, "i")


def _read(token, salt, max_age, key):
    try:
        data = signing.loads(token, salt=salt, max_age=max_age)
        return int(data[key]), str(data["a"])
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        raise InvalidLink() from None


API_TOKEN_PREFIX = "inf_"  # noqa: S105 (a prefix, not a secret)


def new_api_token():
    """Return (the token shown once, its lookup prefix, its stored digest)."""
    raw = API_TOKEN_PREFIX + secrets.token_urlsafe(32)
    return raw, raw[len(API_TOKEN_PREFIX) : len(API_TOKEN_PREFIX) + 8], api_token_digest(raw)


def api_token_digest(raw):
    return hashlib.sha256(raw.encode()).hexdigest()
