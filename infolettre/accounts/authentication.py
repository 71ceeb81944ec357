"""Who is asking: a session cookie, or credentials sent with each request (for people who refuse cookies)."""

import base64
import binascii

from django.contrib.auth import authenticate
from django.utils import timezone

from infolettre.staff.networks import client_ip, from_office

from .errors import InvalidCredentials
from .models import ApiToken
from .throttling import check_sign_in_allowed, clear_sign_in_failures, record_sign_in_failure
from .tokens import API_TOKEN_PREFIX, api_token_digest

TOKEN_USE_RECORD_INTERVAL = 60


def authenticate_password(request, email, password):
    """Return the active user with these credentials, counting failures against guessing.

    A staff account signs in from the office networks only; elsewhere it is refused as if the
    password were wrong, so that nobody outside learns it is a staff account.
    """
    ip = client_ip(request)
    check_sign_in_allowed(email, ip)
    user = authenticate(request, username=(email or "").strip().lower(), password=password)
    if user is None or (user.is_staff and not from_office(request)):
        record_sign_in_failure(email, ip)
        raise InvalidCredentials()
    clear_sign_in_failures(email)
    return user


def authenticate_api_token(raw):
    if not raw.startswith(API_TOKEN_PREFIX):
        raise InvalidCredentials()
    token = (
        ApiToken.unscoped.select_related("user")
        .filter(digest=api_token_digest(raw), revoked_at__isnull=True, user__is_active=True)
        # Staff have no API: their sign-in needs the office and a second factor, which no token has.
        .exclude(user__is_staff=True)
        .first()
    )
    if token is None:
        raise InvalidCredentials()
    now = timezone.now()
    if (
        token.last_used_at is None
        or (now - token.last_used_at).total_seconds() > TOKEN_USE_RECORD_INTERVAL
    ):
        ApiToken.unscoped.filter(pk=token.pk).update(last_used_at=now)
    return token.user


def read_authorization(request):
    """Return (method, user) from an Authorization header, None without one; raise on bad credentials."""
    header = request.META.get("HTTP_AUTHORIZATION", "")
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    scheme = scheme.lower()
    if scheme == "basic":
        try:
            email, sep, password = (
                base64.b64decode(value.strip(), validate=True).decode().partition(":")
            )
        except (binascii.Error, UnicodeDecodeError):
            raise InvalidCredentials() from None
        if not sep:
            raise InvalidCredentials()
        user = authenticate_password(request, email, password)
        if user.is_staff:
            # A password alone is not a staff sign-in: staff pass a second factor on the web.
            raise InvalidCredentials()
        return "basic", user
    if scheme == "bearer":
        return "token", authenticate_api_token(value.strip())
    raise InvalidCredentials()
