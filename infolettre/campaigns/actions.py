"""Every change of state of campaigns: launch, pause, resume, cancel."""

from django.db import transaction
from django.utils import timezone

from infolettre.accounts.errors import AccountNotConfirmed
from infolettre.accounts.models import User

from .errors import NoRecipients, SenderNotVerified, WrongCampaignState
from .models import Campaign, CampaignStatus
from .pipeline import queue_deliveries, start_lanes
from .tracking import current_mode


def check_tenant_can_send(tenant):
    """Nothing leaves for an organisation until one of its people has confirmed their address."""
    if not User.objects.filter(
        tenant=tenant, is_active=True, email_confirmed_at__isnull=False
    ).exists():
        raise AccountNotConfirmed()


def _locked(campaign, *states):
    locked = Campaign.unscoped.select_for_update().get(pk=campaign.pk)
    if locked.status not in states:
        raise WrongCampaignState()
    return locked


def check_ready_to_send(campaign):
    check_tenant_can_send(campaign.tenant)
    if campaign.sender.verified_at is None:
        raise SenderNotVerified()
    if campaign.segment_id is None and not campaign.lists.exists():
        raise NoRecipients()


@transaction.atomic
def do_launch_campaign(campaign):
    """Resolve the recipients once into the send queue and start sending."""
    campaign = _locked(campaign, CampaignStatus.DRAFT, CampaignStatus.SCHEDULED)
    check_ready_to_send(campaign)
    if campaign.template is not None and not campaign.html:
        campaign.html = campaign.template.html
    campaign.recipient_count = queue_deliveries(campaign)
    campaign.status = CampaignStatus.SENDING
    campaign.started_at = campaign.updated_at = timezone.now()
    campaign.tracking = current_mode(campaign.tenant)
    campaign.save(
        update_fields=[
            "html",
            "recipient_count",
            "status",
            "started_at",
            "updated_at",
            "tracking",
        ]
    )
    transaction.on_commit(lambda: start_lanes(campaign))
    return campaign


@transaction.atomic
def do_schedule_campaign(campaign, when):
    from .tasks import launch_scheduled_campaign

    campaign = _locked(campaign, CampaignStatus.DRAFT, CampaignStatus.SCHEDULED)
    check_ready_to_send(campaign)
    campaign.status, campaign.scheduled_at = CampaignStatus.SCHEDULED, when
    campaign.save(update_fields=["status", "scheduled_at"])
    transaction.on_commit(
        lambda: launch_scheduled_campaign.using(run_after=when).enqueue(campaign.pk)
    )
    return campaign


@transaction.atomic
def do_pause_campaign(campaign):
    campaign = _locked(campaign, CampaignStatus.SENDING)
    campaign.status = CampaignStatus.PAUSED
    campaign.save(update_fields=["status"])
    return campaign


@transaction.atomic
def do_resume_campaign(campaign):
    campaign = _locked(campaign, CampaignStatus.PAUSED)
    campaign.status = CampaignStatus.SENDING
    campaign.save(update_fields=["status"])
    transaction.on_commit(lambda: start_lanes(campaign))
    return campaign


@transaction.atomic
def do_cancel_campaign(campaign):
    """Stop for good: what was sent stays sent, the rest is never sent."""
    campaign = _locked(
        campaign, CampaignStatus.SCHEDULED, CampaignStatus.SENDING, CampaignStatus.PAUSED
    )
    campaign.status, campaign.finished_at = CampaignStatus.CANCELLED, timezone.now()
    campaign.save(update_fields=["status", "finished_at"])
    return campaign
