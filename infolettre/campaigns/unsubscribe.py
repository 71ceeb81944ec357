"""One-click unsubscribe links: a signed, per-recipient token that names no guessable id."""

from django.conf import settings
from django.core import signing
from django.urls import reverse

SALT = "infolettre.campaigns.unsubscribe"


def make_token(delivery):
    return signing.dumps(delivery.message_id.hex, salt=SALT)


def unsubscribe_url(delivery):
    return settings.SITE_URL + reverse("campaigns:unsubscribe", args=[make_token(delivery)])
