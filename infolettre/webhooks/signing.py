"""The signature of each webhook request: HMAC-SHA256 of "<timestamp>.<body>" with the secret."""

import hashlib
import hmac
import secrets

SECRET_PREFIX = "whsec_"  # noqa: S105
# A receiver should refuse a request whose timestamp is older than this (a replay).
TOLERANCE_SECONDS = 300


def new_secret():
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def signature(secret, timestamp, body):
    """The Infolettre-Signature header of a request with this body sent at this unix time."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={digest.hexdigest()}"


def verify(secret, header, body, now):
    """Whether a signature header is valid for this body and recent enough (what a receiver does)."""
    fields = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    timestamp = fields.get("t", "")
    if not timestamp.isdigit() or abs(now - int(timestamp)) > TOLERANCE_SECONDS:
        return False
    return hmac.compare_digest(signature(secret, timestamp, body), header)
