"""The link at the bottom of every daily report that stops it: signed, naming the user id only.

No address and no expiry: the link keeps working in an old message, and stops only this report.
"""

from django.conf import settings
from django.core import signing
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from infolettre.accounts.errors import InvalidLink
from infolettre.accounts.models import User

SALT = "infolettre.analytics.daily-report-stop"


def _signer():
    return signing.Signer(salt=SALT)


def make_stop_token(user):
    return _signer().sign(str(user.pk))


def stop_url(user):
    return settings.SITE_URL + reverse("analytics:stop_daily_report", args=[make_stop_token(user)])


def read_stop_token(token):
    """The client user a stop link was made for; InvalidLink when it was altered or is unknown."""
    try:
        user_id = int(_signer().unsign(token))
    except (signing.BadSignature, ValueError):
        raise InvalidLink(_("This link to stop the daily report is damaged.")) from None
    user = User.objects.filter(pk=user_id, tenant__isnull=False).select_related("tenant").first()
    if user is None:
        raise InvalidLink(_("This link to stop the daily report is no longer valid."))
    return user
