"""Open and click counting through the REST API: the organisation's switches and a campaign's figures."""

from datetime import datetime

from django.utils.translation import gettext as _
from ninja import Field, Router, Schema

from infolettre.accounts.api_auth import CLIENT_AUTH
from infolettre.errors import Invalid
from infolettre.schemas import ErrorOut, StrictSchema

from .campaign_queries import access_campaign_for_tenant
from .campaign_stats import campaign_stats
from .models import TrackingMode
from .tracking import tracking_settings
from .tracking_actions import do_set_tracking

router = Router(auth=CLIENT_AUTH, tags=["tracking"])
ERRORS = {401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut}


class TrackingOut(Schema):
    count_opens_and_clicks: bool = Field(
        description="Messages carry an open pixel and their links a click redirect; only totals "
        "per hour and per link are kept, people and machines apart."
    )
    per_recipient: bool = Field(
        description="Also record when each recipient first opened and first clicked (personal "
        "information). Only with count_opens_and_clicks."
    )


class TrackingIn(StrictSchema):
    count_opens_and_clicks: bool
    per_recipient: bool = False


class CountsOut(Schema):
    people: int = Field(description="By people: every open or click, one person may count often.")
    machines: int = Field(
        description="By mail-privacy proxies, security scanners and programs, counted apart."
    )
    unique: int | None = Field(
        description="Recipients who opened (or clicked) at least once; per-recipient mode only."
    )


class RatesOut(Schema):
    delivered: float | None = Field(description="delivered / sent")
    bounced: float | None = Field(description="bounced / sent")
    opened: float | None = Field(description="unique opens / delivered; per-recipient mode only")
    clicked: float | None = Field(description="unique clicks / delivered; per-recipient mode only")
    unsubscribed: float | None = Field(description="unsubscribed / delivered")
    complained: float | None = Field(description="complained / delivered")


class HourOut(Schema):
    hour: datetime = Field(description="Start of the hour, UTC.")
    sent: int
    opens_people: int
    opens_machines: int
    clicks_people: int
    clicks_machines: int


class LinkOut(Schema):
    id: int
    url: str
    clicks_people: int
    clicks_machines: int


class CampaignStatsOut(Schema):
    campaign_id: int
    tracking: TrackingMode = Field(
        description='What the campaign counted, as set at launch: "" (nothing), "aggregate" '
        '(totals naming no one) or "per_recipient".'
    )
    counted: bool
    recipients: int
    sent: int = Field(description="Messages handed to the mail server (accepted or bounced).")
    delivered: int = Field(description="sent - bounced")
    bounced: int
    failed: int
    unsubscribed: int = Field(description="Recipients who unsubscribed through this campaign.")
    complained: int = Field(description="Recipients whose mailbox provider reported a complaint.")
    opens: CountsOut
    clicks: CountsOut
    rates: RatesOut
    hourly: list[HourOut] = Field(description="Hours with any activity, oldest first.")
    links: list[LinkOut] = Field(description="The campaign's tracked links, most clicked first.")


@router.get("/tracking", response={200: TrackingOut, **ERRORS})
def get_tracking(request):
    """The organisation's switches for counting opens and clicks (both off by default)."""
    return tracking_settings(request.tenant)


@router.put("/tracking", response={200: TrackingOut, **ERRORS})
def set_tracking(request, payload: TrackingIn):
    """Set the switches (owners only); campaigns already launched keep what they were launched with."""
    if payload.per_recipient and not payload.count_opens_and_clicks:
        message = _("Per-recipient counting needs the counting of opens and clicks: turn both on.")
        raise Invalid(message, details=[{"field": "per_recipient", "message": message}])
    return do_set_tracking(
        request.user,
        count_opens_and_clicks=payload.count_opens_and_clicks,
        per_recipient=payload.per_recipient,
    )


@router.get("/campaigns/{campaign_id}/stats", response={200: CampaignStatsOut, **ERRORS})
def get_campaign_stats(request, campaign_id: int):
    """Sent, delivered, bounced, unsubscribed, complaints, opens and clicks, per hour and per link."""
    return campaign_stats(access_campaign_for_tenant(campaign_id))
