"""Signed links and API tokens: nothing guessable, nothing stored that would let someone sign in."""

import hashlib
import secrets

from django.conf import settings
from django.core import signing

from .errors import InvalidLink

CONFIRM_SALT = "infolettre.accounts.confirm-email"
INVITATION_SALT = "infolettre.accounts.invitation"


def make_confirmation_token(user):
    # The address is signed too, so a link stops working once the address changes.
    return signing.dumps({"u": user.pk, "e": user.email}, salt=CONFIRM_SALT, compress=True)


def read_confirmation_token(token):
    """Return (user id, address) of a valid, unexpired confirmation link."""
    try:
        data = signing.loads(token, salt=CONFIRM_SALT, max_age=settings.EMAIL_CONFIRMATION_MAX_AGE)
    except signing.BadSignature:
        raise InvalidLink() from None
    return data["u"], data["e"]


def make_invitation_token(invitation):
    return signing.dumps(
        {"i": invitation.pk, "e": invitation.email}, salt=INVITATION_SALT, compress=True
    )


def read_invitation_token(token):
    try:
        data = signing.loads(token, salt=INVITATION_SALT, max_age=settings.INVITATION_MAX_AGE)
    except signing.BadSignature:
        raise InvalidLink() from None
    return data["i"], data["e"]


API_TOKEN_PREFIX = "inf_"  # noqa: S105 (a prefix, not a secret)


def new_api_token():
    """Return (the token shown once, its lookup prefix, its stored digest)."""
    raw = API_TOKEN_PREFIX + secrets.token_urlsafe(32)
    return raw, raw[len(API_TOKEN_PREFIX) : len(API_TOKEN_PREFIX) + 8], api_token_digest(raw)


def api_token_digest(raw):
    return hashlib.sha256(raw.encode()).hexdigest()
