from django.tasks import task
from django.utils import timezone

from infolettre.accounts.tenancy import tenant_scope

from .pipeline import run_lane


@task()
def send_campaign_lane(campaign_id):
    """Send a campaign's next batches, then hand over to a successor while work remains."""
    next_time = run_lane(campaign_id)
    if next_time is None:
        return
    if next_time <= timezone.now():
        send_campaign_lane.enqueue(campaign_id)
    elif send_campaign_lane.get_backend().supports_defer:
        send_campaign_lane.using(run_after=next_time).enqueue(campaign_id)


@task()
def launch_scheduled_campaign(campaign_id):
    """Launch a scheduled campaign when its time comes; a cancelled or rescheduled one stays put."""
    from .actions import do_launch_campaign
    from .models import Campaign, CampaignStatus

    campaign = Campaign.unscoped.filter(pk=campaign_id, status=CampaignStatus.SCHEDULED).first()
    if campaign is None or campaign.scheduled_at > timezone.now():
        return
    with tenant_scope(campaign.tenant):
        do_launch_campaign(campaign)
