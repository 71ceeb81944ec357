import logging

from django.db import InterfaceError, OperationalError, close_old_connections
from django.tasks import task
from django.utils import timezone

from infolettre.accounts.tenancy import tenant_scope

from . import pipeline

logger = logging.getLogger(__name__)


@task()
def send_campaign_lane(campaign_id, generation=None):
    """Send a campaign's next batches, then hand over to a successor while work remains."""
    try:
        next_time = pipeline.run_lane(campaign_id, generation=generation)
    except (OperationalError, InterfaceError):
        # The database went away (a restart, a failover): this lane ends here, and a worker that
        # keeps its process for the next task must not reuse the broken connection. The lane's
        # batch goes back to the queue when its lease lapses; restart_stalled_campaigns restarts
        # the campaign's lanes if none is left.
        close_old_connections()
        raise
    if next_time is None:
        return
    if next_time <= timezone.now():
        successor = send_campaign_lane.enqueue(campaign_id, generation)
    elif send_campaign_lane.get_backend().supports_defer:
        successor = send_campaign_lane.using(run_after=next_time).enqueue(campaign_id, generation)
    else:
        return
    pipeline.note_lane_task(campaign_id, generation, successor.id)


@task()
def restart_stalled_campaigns():
    """Restart the lanes of every campaign whose messages stopped leaving (run every minute)."""
    restarted = pipeline.restart_stalled_campaigns()
    if restarted:
        logger.info("Lanes restarted for %s stalled campaigns", len(restarted))


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
