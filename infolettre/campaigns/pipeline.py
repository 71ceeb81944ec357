"""The sending pipeline: recipients resolved once into a send queue, then sent in batches by lanes.

A lane is a task that claims a batch of queued deliveries (a lease, so that a killed worker's claim
lapses), sends them over one connection, records each as sent at the moment it leaves (see
messaging.transports), and enqueues its own successor. Running a lane twice sends nothing twice.

The lease's expiry is also its fencing token: a lane marks a delivery sent only while the row still
holds its own expiry, just before the message's final dot. A lane too slow to renew its lease in time
(a throttled client, a stalled server) loses the rows another lane took over, and cuts the message
short instead of sending it a second time.
"""

import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import format_datetime, formataddr

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Min, Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from infolettre.accounts.tenancy import tenant_scope
from infolettre.audience.actions import do_suppress
from infolettre.audience.models import SuppressionReason
from infolettre.audience.queries import sendable_contacts, sendable_subscriptions
from infolettre.messaging.transports import PERMANENT, SENT, OutgoingMessage, transport_from_url
from infolettre.webhooks import events as webhook_events

from .errors import TemplateError
from .models import Campaign, CampaignStatus, Delivery, DeliveryStatus, SendingProfile
from .templating import CompiledCampaign
from .throttle import ThrottleUnavailable, acquire_send_slots

logger = logging.getLogger(__name__)


def resolve_recipients(campaign):
    """The contacts of a campaign: sendable on its lists (any list if none), within its segment."""
    segment = None
    if campaign.segment_id is not None:
        from infolettre.audience.segments import segment_contacts

        segment = segment_contacts(campaign.segment.definition)
    # One statement: the segment's conditions and the EXISTS of a sendable subscription, instead
    # of the segment's contacts IN every sendable contact of the lists.
    return sendable_contacts(list(campaign.lists.all()), within=segment)


def queue_deliveries(campaign):
    """Write one queued delivery per recipient; return how many."""
    batch, count = [], 0
    for contact_id, email in (
        resolve_recipients(campaign).values_list("pk", "email").iterator(chunk_size=5000)
    ):
        batch.append(
            Delivery(
                tenant_id=campaign.tenant_id, campaign=campaign, contact_id=contact_id, email=email
            )
        )
        if len(batch) == 5000:
            Delivery.unscoped.bulk_create(batch)
            count += len(batch)
            batch = []
    Delivery.unscoped.bulk_create(batch)
    return count + len(batch)


def start_lanes(campaign, lanes=None, *, restart=False):
    """Enqueue a new generation of lanes; the lanes of earlier generations stop at their next check.

    Launch and resume count as progress (the campaign is not late for the time it was paused); a
    restart by the watchdog does not, so the campaign's page still says it is late.
    """
    from .tasks import send_campaign_lane

    with transaction.atomic():
        fields = {"lane_generation": F("lane_generation") + 1, "lane_tasks": []}
        if not restart:
            fields["progressed_at"] = timezone.now()
        Campaign.unscoped.filter(pk=campaign.pk).update(**fields)
        generation = Campaign.unscoped.values_list("lane_generation", flat=True).get(pk=campaign.pk)
    for _ in range(lanes or settings.CAMPAIGN_LANES):
        try:
            result = send_campaign_lane.enqueue(campaign.pk, generation)
        except Exception:
            # The task queue is unreachable: the campaign is under way all the same, and the
            # watchdog (restart_stalled_campaigns) starts its lanes once the queue is back.
            logger.warning("Campaign %s: a lane could not be enqueued", campaign.pk, exc_info=True)
            continue
        note_lane_task(campaign.pk, generation, result.id)


def note_lane_task(campaign_id, generation, task_id):
    """Remember a lane's task id, so that the watchdog can ask whether a lane is still waiting."""
    keep = 2 * settings.CAMPAIGN_LANES
    with transaction.atomic():
        campaign = (
            Campaign.unscoped.select_for_update()
            .only("lane_generation", "lane_tasks")
            .filter(pk=campaign_id)
            .first()
        )
        if campaign is None or (generation is not None and campaign.lane_generation != generation):
            return
        campaign.lane_tasks = [*campaign.lane_tasks, task_id][-keep:]
        campaign.save(update_fields=["lane_tasks"])


@dataclass
class Lease:
    """A lane's claim on its batch. `until` is written on each claimed row and is its token."""

    until: datetime
    deliveries: list

    def renew_if_due(self, pending):
        """Push the expiry further when half the claim has run out (rows taken over stay taken)."""
        now = timezone.now()
        claim = timedelta(seconds=settings.CAMPAIGN_CLAIM_SECONDS)
        if self.until - now > claim / 2:
            return
        until = now + claim
        Delivery.unscoped.filter(
            pk__in=[d.pk for d in pending], status=DeliveryStatus.QUEUED, claimed_until=self.until
        ).update(claimed_until=until)
        self.until = until


def claim_batch(campaign, size):
    """Lease up to `size` due, unclaimed deliveries to this lane; none is leased to two lanes."""
    now = timezone.now()
    until = now + timedelta(seconds=settings.CAMPAIGN_CLAIM_SECONDS)
    with transaction.atomic():
        ids = list(
            Delivery.unscoped.select_for_update(skip_locked=True)
            .filter(campaign=campaign, status=DeliveryStatus.QUEUED, next_attempt_at__lte=now)
            .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
            .order_by("id")
            .values_list("pk", flat=True)[:size]
        )
        Delivery.unscoped.filter(pk__in=ids).update(claimed_until=until)
    deliveries = Delivery.unscoped.filter(pk__in=ids).select_related("contact").order_by("id")
    return Lease(until, list(deliveries))


def skip_no_longer_sendable(campaign, lease):
    """Withdrawal applies to every message not yet sent: drop who left since the launch."""
    batch = lease.deliveries
    contact_ids = [d.contact_id for d in batch if d.contact_id is not None]
    subscriptions = sendable_subscriptions().filter(contact_id__in=contact_ids)
    lists = list(campaign.lists.values_list("pk", flat=True))
    if lists:
        subscriptions = subscriptions.filter(mailing_list_id__in=lists)
    sendable = set(subscriptions.values_list("contact_id", flat=True))
    skipped = [d.pk for d in batch if d.contact_id not in sendable]
    if skipped:
        Delivery.unscoped.filter(pk__in=skipped, claimed_until=lease.until).update(
            status=DeliveryStatus.SKIPPED, claimed_until=None
        )
    return [d for d in batch if d.contact_id in sendable]


def message_headers(campaign, delivery, unsubscribe_url, subject):
    domain = settings.BOUNCE_DOMAIN
    headers = {
        "From": formataddr((campaign.sender.name, campaign.sender.email)),
        "To": delivery.email,
        "Subject": subject,
        "Date": format_datetime(timezone.now()),
        "Message-ID": f"<{delivery.message_id.hex}@{domain}>",
        "List-Unsubscribe": f"<{unsubscribe_url}>, <mailto:unsubscribe+{delivery.message_id.hex}@{domain}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }
    if campaign.reply_to:
        headers["Reply-To"] = campaign.reply_to
    return headers


def unsubscribe_url_for(delivery):
    from .unsubscribe import unsubscribe_url

    return unsubscribe_url(delivery)


def preferences_url_for(unsubscribe_url):
    # The preference centre sits under the unsubscribe address, so one token serves both and the
    # footer's text form is still derived once per organisation (see templating.footer_text).
    return unsubscribe_url + "preferences/"


def footer_for(campaign, unsubscribe_url):
    from .footer import render_footer

    return render_footer(
        campaign, unsubscribe_url, preferences_url_for(unsubscribe_url), campaign.tracking
    )


def build_message(compiled, campaign, delivery):
    unsubscribe_url = unsubscribe_url_for(delivery)
    subject, html, text = compiled.render(
        delivery.contact,
        unsubscribe_url=unsubscribe_url,
        footer_html=footer_for(campaign, unsubscribe_url),
    )
    if compiled.tracker is not None:
        html, text = compiled.tracker.finish(html, text, delivery)
    return OutgoingMessage(
        envelope_from=f"bounce+{delivery.message_id.hex}@{settings.BOUNCE_DOMAIN}",
        recipient=delivery.email,
        headers=message_headers(campaign, delivery, unsubscribe_url, subject),
        text=text,
        html=html,
        reason=f"campaign:{campaign.pk}",
        tenant_id=campaign.tenant_id,
        campaign_id=campaign.pk,
        delivery_id=delivery.pk,
    )


class LeaseLost(Exception):
    """Another lane holds this delivery now (this lane's lease lapsed): it must not leave here."""


def _mark_sent(delivery, lease):
    # Once per message, on the hot path of sending: one plain statement, committed at once, that
    # succeeds only while the row is still queued under this lane's lease.
    adapt = connection.ops.adapt_datetimefield_value
    with connection.cursor() as cursor:
        cursor.execute(
            MARK_SENT,
            [
                DeliveryStatus.SENT,
                adapt(timezone.now()),
                delivery.pk,
                DeliveryStatus.QUEUED,
                adapt(lease.until),
            ],
        )
        if cursor.rowcount != 1:
            raise LeaseLost(delivery.pk)


def _retry_later(delivery, detail):
    attempts = delivery.attempts + 1
    if attempts >= settings.CAMPAIGN_MAX_ATTEMPTS:
        fields = {"status": DeliveryStatus.FAILED}
    else:
        delay = settings.CAMPAIGN_RETRY_SECONDS * 2 ** (attempts - 1)
        fields = {"next_attempt_at": timezone.now() + timedelta(seconds=delay)}
    Delivery.unscoped.filter(pk=delivery.pk).update(
        attempts=attempts, claimed_until=None, error=detail[:300], **fields
    )


def _fail(delivery, detail):
    Delivery.unscoped.filter(pk=delivery.pk).update(
        status=DeliveryStatus.FAILED, claimed_until=None, error=str(detail)[:300]
    )


def _bounce(delivery, detail):
    Delivery.unscoped.filter(pk=delivery.pk).update(
        status=DeliveryStatus.BOUNCED,
        attempts=delivery.attempts + 1,
        claimed_until=None,
        error=detail[:300],
    )
    do_suppress(delivery.campaign.tenant, delivery.email, SuppressionReason.BOUNCED)


MARK_SENT = (
    f"UPDATE {Delivery._meta.db_table} SET status = %s, sent_at = %s, attempts = attempts + 1, "  # noqa: S608
    "claimed_until = NULL WHERE id = %s AND status = %s AND claimed_until = %s"
)


def send_one(transport, compiled, campaign, delivery, lease):
    """Send one delivery; after its send was committed, a failure leaves it sent (never twice)."""
    committed = False

    def commit():
        nonlocal committed
        _mark_sent(delivery, lease)
        committed = True

    try:
        message = build_message(compiled, campaign, delivery)
    except TemplateError as error:
        # One contact's data broke the template (say, arithmetic on a text value): that message
        # fails, the campaign goes on.
        _fail(delivery, f"template: {error.message}")
        return
    try:
        transport.open()
        # The server's answer may be read only while the next message is sent: building that
        # message overlaps with the server reading this one.
        transport.send_then(message, commit, lambda result: _settle(delivery, result))
    except (OSError, EOFError) as error:
        if not committed:
            _retry_later(delivery, f"connection: {error.__class__.__name__}")
        raise
    return committed


def _settle(delivery, result):
    if result.outcome == SENT:
        return
    if result.outcome == PERMANENT:
        _bounce(delivery, f"{result.code} {result.detail}")
    else:
        _retry_later(delivery, f"{result.code} {result.detail}")


def _postpone(lease, deliveries):
    later = timezone.now() + timedelta(seconds=settings.CAMPAIGN_RETRY_SECONDS)
    Delivery.unscoped.filter(
        pk__in=[d.pk for d in deliveries], status=DeliveryStatus.QUEUED, claimed_until=lease.until
    ).update(claimed_until=None, next_attempt_at=later)


def _release(lease, deliveries):
    Delivery.unscoped.filter(
        pk__in=[d.pk for d in deliveries], status=DeliveryStatus.QUEUED, claimed_until=lease.until
    ).update(claimed_until=None)


class Progress:
    """Write down that messages leave, at most every few seconds: the watchdog and the campaign's
    page read it to tell a campaign under way from one that is stuck."""

    def __init__(self, campaign):
        self.campaign, self.written_at = campaign, None
        # Often enough that a campaign under way never looks stalled (CAMPAIGN_STALL_SECONDS).
        self.every = timedelta(seconds=min(5, settings.CAMPAIGN_STALL_SECONDS / 4))

    def sent(self):
        now = timezone.now()
        if self.written_at is None or now - self.written_at >= self.every:
            Campaign.unscoped.filter(pk=self.campaign.pk).update(progressed_at=now)
            self.written_at = now


def run_lane(campaign_id, *, seconds=None, generation=None):
    """Send batches of one campaign for at most `seconds`; return when the next lane should run.

    A lane of an earlier `generation` than the campaign's stops (see start_lanes); None is any.
    """
    campaign = Campaign.unscoped.select_related("sender", "tenant", "segment").get(pk=campaign_id)
    if campaign.status != CampaignStatus.SENDING or not _current(campaign, generation):
        return None
    deadline = time.monotonic() + (seconds or settings.CAMPAIGN_LANE_SECONDS)
    if connection.vendor == "postgresql":
        # One commit per message: waiting for each to reach the disk would cap sending at the
        # disk's flush rate. A crash of the database server itself could lose the last few
        # hundred milliseconds of "sent" marks (those messages would be sent again); a worker's
        # crash loses nothing.
        with connection.cursor() as cursor:
            cursor.execute("SET synchronous_commit TO OFF")
    with tenant_scope(campaign.tenant):
        compiled = CompiledCampaign(campaign)
        transport = transport_for(campaign)
        rate = sending_profile(campaign.tenant_id).rate_per_second or None
        progress = Progress(campaign)
        try:
            while time.monotonic() < deadline:
                lease = claim_batch(campaign, settings.CAMPAIGN_BATCH_SIZE)
                if not lease.deliveries:
                    break
                batch = skip_no_longer_sendable(campaign, lease)
                for index, delivery in enumerate(batch):
                    if index % 50 == 0 and not _still_sending(campaign, generation):
                        _release(lease, batch[index:])
                        return None
                    try:
                        acquire_send_slots(campaign.tenant_id, rate=rate)
                    except ThrottleUnavailable:
                        # Without the shared allowance, sending could exceed the client's rate.
                        _postpone(lease, batch[index:])
                        return next_lane_time(campaign)
                    lease.renew_if_due(batch[index:])
                    try:
                        if send_one(transport, compiled, campaign, delivery, lease):
                            progress.sent()
                    except (OSError, EOFError):
                        # The server is unreachable: the rest of the batch waits for the next try.
                        _postpone(lease, batch[index + 1 :])
                        return next_lane_time(campaign)
                    except LeaseLost:
                        # Cut short before its final dot, the message was not sent; the lane that
                        # holds the rest of the batch now sends it.
                        transport.abort()
                        _release(lease, batch[index + 1 :])
                        break
        except BaseException:
            # A message may have been cut short (the database went away between its text and its
            # final dot): drop the connection so that the server keeps nothing of it.
            transport.abort()
            raise
        finally:
            transport.close()
    return next_lane_time(campaign)


def sending_profile(tenant_id):
    return SendingProfile.unscoped.filter(tenant_id=tenant_id).first() or SendingProfile(
        tenant_id=tenant_id
    )


def transport_for(campaign):
    """The client's own transport when the operator chose one, else the deployment's."""
    name = sending_profile(campaign.tenant_id).transport
    return transport_from_url(
        settings.CAMPAIGN_TRANSPORTS[name] if name else settings.CAMPAIGN_TRANSPORT_URL
    )


def _current(campaign, generation):
    return generation is None or campaign.lane_generation == generation


def _still_sending(campaign, generation=None):
    current = Campaign.unscoped.filter(pk=campaign.pk, status=CampaignStatus.SENDING)
    if generation is not None:
        current = current.filter(lane_generation=generation)
    return current.exists()


def next_lane_time(campaign):
    """When this campaign next has work: now, a retry's time or a lapsing claim; None when done."""
    queued = Delivery.unscoped.filter(campaign=campaign, status=DeliveryStatus.QUEUED)
    times = queued.aggregate(retry=Min("next_attempt_at"), claim=Min("claimed_until"))
    if times["retry"] is None:
        finish_campaign(campaign)
        return None
    now = timezone.now()
    unclaimed_due = queued.filter(
        Q(claimed_until__isnull=True) | Q(claimed_until__lt=now), next_attempt_at__lte=now
    )
    if unclaimed_due.exists():
        return now
    return max(now, min(t for t in (times["retry"], times["claim"]) if t is not None))


def finish_campaign(campaign):
    Campaign.unscoped.filter(pk=campaign.pk, status=CampaignStatus.SENDING).update(
        status=CampaignStatus.SENT, finished_at=timezone.now()
    )
    webhook_events.emit_campaign_finished(campaign)


def stalled_campaigns(now=None):
    """Campaigns under way from which no message has left for CAMPAIGN_STALL_SECONDS."""
    now = now or timezone.now()
    return (
        Campaign.unscoped.filter(status=CampaignStatus.SENDING)
        .alias(last_progress=Coalesce("progressed_at", "started_at"))
        .filter(last_progress__lt=now - timedelta(seconds=settings.CAMPAIGN_STALL_SECONDS))
        .order_by("pk")
    )


def lane_waiting(campaign):
    """Whether one of the campaign's latest lanes is still queued (or deferred) in the task engine.

    A lane that is running but made no progress counts as lost: a worker killed in the middle of a
    task may leave it "running" for ever.
    """
    from django.tasks import TaskResultStatus

    from .tasks import send_campaign_lane

    if not send_campaign_lane.get_backend().supports_get_result:
        return False
    for task_id in campaign.lane_tasks:
        try:
            status = send_campaign_lane.get_result(task_id).status
        except _task_gone():
            continue
        if status == TaskResultStatus.READY:
            return True
    return False


def _task_gone():
    # django-tasks-rq raises the exception of the django-tasks package, the backport of
    # django.tasks, rather than Django's own.
    from django.tasks.exceptions import TaskResultDoesNotExist

    try:
        from django_tasks.exceptions import TaskResultDoesNotExist as Backported
    except ImportError:
        return (TaskResultDoesNotExist,)
    return (TaskResultDoesNotExist, Backported)


def restart_stalled_campaigns(now=None):
    """Start new lanes for each stalled campaign that has messages due and no lane waiting.

    Lanes die with their worker, with the database connection or with the task queue (a Redis
    restart without persistence forgets every queued task); the campaign would stay "sending" for
    ever. Return the ids of the campaigns restarted.
    """
    restarted = []
    for campaign in stalled_campaigns(now):
        when = next_lane_time(campaign)  # finishes the campaign when nothing is left to send
        if when is None or when > timezone.now():
            continue  # done, or waiting for a retry's time: its deferred lane (or a later run) goes
        try:
            waiting = lane_waiting(campaign)
        except Exception:
            # The task engine cannot answer: new lanes cannot be enqueued either; next run.
            logger.warning("Campaign %s: lanes could not be checked", campaign.pk, exc_info=True)
            continue
        if not waiting:
            logger.info("Campaign %s: no message left for a while; lanes restarted", campaign.pk)
            start_lanes(campaign, restart=True)
            restarted.append(campaign.pk)
    return restarted
