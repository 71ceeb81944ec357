"""Campaigns and sender addresses through the REST API: each id is looked up in the caller's tenant."""

from django.db import transaction
from ninja import Router, Status
from ninja.pagination import PageNumberPagination, paginate

from infolettre.accounts.api_auth import CLIENT_AUTH
from infolettre.accounts.errors import InvalidLink
from infolettre.accounts.forms import REQUIRED
from infolettre.accounts.validation import check_email
from infolettre.audience.queries import (
    access_contact_for_tenant,
    access_list_for_tenant,
    access_segment_for_tenant,
)
from infolettre.errors import Invalid
from infolettre.schemas import ErrorOut

from . import actions, campaign_drafts, senders
from .campaign_queries import (
    access_campaign_for_tenant,
    access_sender_for_tenant,
    campaign_counts,
    campaigns_with_counts,
)
from .campaign_queries import senders as all_senders
from .delays import campaign_delay
from .models import CampaignStatus
from .schemas import (
    CampaignIn,
    CampaignOut,
    CampaignPatch,
    CampaignSummaryOut,
    CampaignTestIn,
    CampaignTestOut,
    SenderConfirmIn,
    SenderIn,
    SenderOut,
    SendIn,
)
from .template_actions import do_send_campaign_test
from .template_queries import access_template_for_tenant

router = Router(auth=CLIENT_AUTH, tags=["campaigns"])
ERRORS = {401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut}


def _checked(field, check, value):
    try:
        return check(value)
    except Invalid as e:
        raise Invalid(e.message, details=[{"field": field, "message": str(e.message)}]) from None


def _resolved(fields):
    """Turn the ids of a body into this tenant's objects; another tenant's id is not found."""
    resolved = {}
    for name, value in fields.items():
        if name == "sender_id":
            resolved["sender"] = access_sender_for_tenant(value)
        elif name == "list_ids":
            resolved["lists"] = [access_list_for_tenant(i) for i in dict.fromkeys(value)]
        elif name == "segment_id":
            resolved["segment"] = None if value is None else access_segment_for_tenant(value)
        elif name == "template_id":
            resolved["template"] = None if value is None else access_template_for_tenant(value)
        elif name == "reply_to":
            resolved["reply_to"] = _checked("reply_to", check_email, value) if value else ""
        else:
            resolved[name] = value
    return resolved


def _counted(campaign):
    campaign.counts = campaign_counts(campaign)
    return campaign


def _campaign_out(campaign):
    campaign = access_campaign_for_tenant(campaign.pk)
    campaign.list_ids = sorted(campaign.lists.values_list("pk", flat=True))
    delay = campaign_delay(campaign)
    campaign.delay = delay and {**vars(delay), "message": delay.message()}
    return _counted(campaign)


# Campaigns ---------------------------------------------------------------------------------------


@router.get("/campaigns", response=list[CampaignSummaryOut])
@paginate(PageNumberPagination, page_size=50, max_page_size=200)
def list_campaigns(request, status: CampaignStatus | None = None):
    """The organisation's campaigns, newest first, with their delivery counts."""
    campaigns = campaigns_with_counts()
    return campaigns.filter(status=status) if status else campaigns


@router.post("/campaigns", response={201: CampaignOut, **ERRORS})
@transaction.atomic
def create_campaign(request, payload: CampaignIn):
    """Create a draft. Give the HTML, or a template whose HTML is copied into the campaign."""
    fields = _resolved(payload.model_dump())
    campaign = campaign_drafts.do_create_campaign(request.tenant, **fields)
    return Status(201, _campaign_out(campaign))


@router.get("/campaigns/{campaign_id}", response={200: CampaignOut, **ERRORS})
def get_campaign(request, campaign_id: int):
    """The campaign with its status and its live counts of recipients by delivery status."""
    return _campaign_out(access_campaign_for_tenant(campaign_id))


@router.patch("/campaigns/{campaign_id}", response={200: CampaignOut, **ERRORS})
@transaction.atomic
def update_campaign(request, campaign_id: int, payload: CampaignPatch):
    """Change a draft; a campaign that is scheduled or under way answers 409."""
    campaign = access_campaign_for_tenant(campaign_id)
    fields = payload.model_dump(exclude_unset=True)
    for required in ("name", "subject", "sender_id", "html", "list_ids"):
        if required in fields and fields[required] is None:
            raise Invalid(details=[{"field": required, "message": str(REQUIRED)}])
    campaign_drafts.do_update_campaign(campaign, **_resolved(fields))
    return _campaign_out(campaign)


@router.delete("/campaigns/{campaign_id}", response={204: None, **ERRORS})
def delete_campaign(request, campaign_id: int):
    """Delete a draft; any other campaign stays as the record of what was sent."""
    campaign_drafts.do_delete_campaign(access_campaign_for_tenant(campaign_id))
    return Status(204, None)


@router.post("/campaigns/{campaign_id}/send", response={202: CampaignOut, **ERRORS})
def send_campaign(request, campaign_id: int, payload: SendIn | None = None):
    """Send now, or at the time given in `at`; the answer comes before the messages leave."""
    campaign = access_campaign_for_tenant(campaign_id)
    when = payload.at if payload is not None else None
    if when is not None:
        when = campaign_drafts.check_send_time(when)
        actions.do_schedule_campaign(campaign, when)
    else:
        actions.do_launch_campaign(campaign)
    return Status(202, _campaign_out(campaign))


@router.post("/campaigns/{campaign_id}/pause", response={200: CampaignOut, **ERRORS})
def pause_campaign(request, campaign_id: int):
    """Stop sending for now; what is queued waits for resume."""
    actions.do_pause_campaign(access_campaign_for_tenant(campaign_id))
    return _campaign_out(access_campaign_for_tenant(campaign_id))


@router.post("/campaigns/{campaign_id}/resume", response={200: CampaignOut, **ERRORS})
def resume_campaign(request, campaign_id: int):
    actions.do_resume_campaign(access_campaign_for_tenant(campaign_id))
    return _campaign_out(access_campaign_for_tenant(campaign_id))


@router.post("/campaigns/{campaign_id}/cancel", response={200: CampaignOut, **ERRORS})
def cancel_campaign(request, campaign_id: int):
    """Stop for good: what was sent stays sent, the rest is never sent."""
    actions.do_cancel_campaign(access_campaign_for_tenant(campaign_id))
    return _campaign_out(access_campaign_for_tenant(campaign_id))


@router.post("/campaigns/{campaign_id}/test", response={200: CampaignTestOut, **ERRORS})
def test_campaign(request, campaign_id: int, payload: CampaignTestIn):
    """Send the campaign as it stands to at most five addresses, subject marked "[Test]"."""
    campaign = access_campaign_for_tenant(campaign_id)
    contact = access_contact_for_tenant(payload.contact_id) if payload.contact_id else None
    results = do_send_campaign_test(campaign, payload.addresses, user=request.user, contact=contact)
    return {"results": results}


# Sender addresses --------------------------------------------------------------------------------


@router.get("/senders", response=list[SenderOut])
def list_senders(request):
    return list(all_senders())


@router.post("/senders", response={201: SenderOut, **ERRORS})
def add_sender(request, payload: SenderIn):
    """Add an address to send from; a link to confirm it is mailed to it."""
    email = _checked("email", check_email, payload.email)
    sender = senders.do_add_sender(request.user, email=email, name=payload.name.strip())
    return Status(201, access_sender_for_tenant(sender.pk))


# Declared before /senders/{sender_id}, which would otherwise take "confirm" for an id.
@router.post("/senders/confirm", response={200: SenderOut, **ERRORS})
def confirm_sender(request, payload: SenderConfirmIn):
    """Confirm a sender address with the token of the link mailed to it."""
    sender = senders.sender_from_link(payload.token)
    if sender.tenant_id != request.tenant.pk:
        raise InvalidLink()
    senders.do_confirm_sender(payload.token)
    return access_sender_for_tenant(sender.pk)


@router.delete("/senders/{sender_id}", response={204: None, **ERRORS})
def delete_sender(request, sender_id: int):
    """Delete a sender address that no campaign names."""
    senders.do_delete_sender(access_sender_for_tenant(sender_id))
    return Status(204, None)
