"""Whether a campaign under way is late, and why, in words its owner understands."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Min
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.timesince import timesince
from django.utils.translation import gettext as _

from .models import CampaignStatus, Delivery, DeliveryStatus

# Why no message leaves: the mail server refused or could not be reached and the waiting messages
# are tried again later; or messages are due and nothing sends them (the task queue or the mail
# server is unreachable, or no worker runs).
RETRIES_PENDING = "retries_pending"
NOT_SENDING = "not_sending"


@dataclass(frozen=True)
class Delay:
    code: str
    since: datetime  # when a message last left (or sending started)
    retry_at: datetime | None  # when the waiting messages are tried again, for RETRIES_PENDING

    def message(self, now=None):
        duration = timesince(self.since, now or timezone.now(), depth=1)
        if self.code == RETRIES_PENDING:
            when = date_format(timezone.localtime(self.retry_at), "DATETIME_FORMAT")
            return _(
                "Sending is delayed: no message has left for %(duration)s. The mail server "
                "refused the last attempts or could not be reached; the waiting messages are "
                "tried again on %(when)s."
            ) % {"duration": duration, "when": when}
        return _(
            "Sending is delayed: no message has left for %(duration)s. The task queue or the mail "
            "server is unreachable, or no sending process is running. Sending resumes by itself "
            "once they are back, and no one receives a message twice."
        ) % {"duration": duration}


def campaign_delay(campaign, now=None):
    """The campaign's delay, or None while messages leave (or when it is not being sent)."""
    if campaign.status != CampaignStatus.SENDING:
        return None
    now = now or timezone.now()
    since = campaign.progressed_at or campaign.started_at
    if since is None or now - since < timedelta(seconds=settings.CAMPAIGN_STALL_SECONDS):
        return None
    queued = Delivery.unscoped.filter(
        tenant_id=campaign.tenant_id, campaign=campaign, status=DeliveryStatus.QUEUED
    )
    retry_at = queued.aggregate(first=Min("next_attempt_at"))["first"]
    if retry_at is None:
        return None  # nothing left to send: the campaign ends at its next lane
    if retry_at > now:
        return Delay(RETRIES_PENDING, since, retry_at)
    return Delay(NOT_SENDING, since, None)
