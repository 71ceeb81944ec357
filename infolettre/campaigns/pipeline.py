"""The sending pipeline: recipients resolved once into a send queue, then sent in batches by lanes.

A lane is a task that claims a batch of queued deliveries (a lease, so that a killed worker's claim
lapses), sends them over one connection, records each as sent at the moment it leaves (see
messaging.transports), and enqueues its own successor. Running a lane twice sends nothing twice.
"""

import time
from datetime import timedelta
from email.utils import format_datetime, formataddr

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Min, Q
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
from .throttle import acquire_send_slots


def resolve_recipients(campaign):
    """The contacts of a campaign: sendable on its lists (any list if none), within its segment."""
    contacts = sendable_contacts(list(campaign.lists.all()))
    if campaign.segment_id is not None:
        from infolettre.audience.segments import segment_contacts

        contacts = segment_contacts(campaign.segment.definition).filter(
            pk__in=contacts.values("pk")
        )
    return contacts


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


def start_lanes(campaign, lanes=None):
    from .tasks import send_campaign_lane

    for _ in range(lanes or settings.CAMPAIGN_LANES):
        send_campaign_lane.enqueue(campaign.pk)


def claim_batch(campaign, size):
    """Lease up to `size` due, unclaimed deliveries to this lane; none is leased to two lanes."""
    now = timezone.now()
    with transaction.atomic():
        ids = list(
            Delivery.unscoped.select_for_update(skip_locked=True)
            .filter(campaign=campaign, status=DeliveryStatus.QUEUED, next_attempt_at__lte=now)
            .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
            .order_by("id")
            .values_list("pk", flat=True)[:size]
        )
        Delivery.unscoped.filter(pk__in=ids).update(
            claimed_until=now + timedelta(seconds=settings.CAMPAIGN_CLAIM_SECONDS)
        )
    return list(Delivery.unscoped.filter(pk__in=ids).select_related("contact").order_by("id"))


def skip_no_longer_sendable(campaign, batch):
    """Withdrawal applies to every message not yet sent: drop who left since the launch."""
    contact_ids = [d.contact_id for d in batch if d.contact_id is not None]
    subscriptions = sendable_subscriptions().filter(contact_id__in=contact_ids)
    lists = list(campaign.lists.values_list("pk", flat=True))
    if lists:
        subscriptions = subscriptions.filter(mailing_list_id__in=lists)
    sendable = set(subscriptions.values_list("contact_id", flat=True))
    skipped = [d.pk for d in batch if d.contact_id not in sendable]
    if skipped:
        Delivery.unscoped.filter(pk__in=skipped).update(
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


def _mark_sent(delivery):
    # Once per message, on the hot path of sending: one plain statement, committed at once.
    with connection.cursor() as cursor:
        cursor.execute(MARK_SENT, [DeliveryStatus.SENT, timezone.now(), delivery.pk])


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
    "claimed_until = NULL WHERE id = %s"
)


def send_one(transport, compiled, campaign, delivery):
    """Send one delivery; after its send was committed, a failure leaves it sent (never twice)."""
    committed = False

    def commit():
        nonlocal committed
        _mark_sent(delivery)
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


def _settle(delivery, result):
    if result.outcome == SENT:
        return
    if result.outcome == PERMANENT:
        _bounce(delivery, f"{result.code} {result.detail}")
    else:
        _retry_later(delivery, f"{result.code} {result.detail}")


def _postpone(deliveries):
    later = timezone.now() + timedelta(seconds=settings.CAMPAIGN_RETRY_SECONDS)
    Delivery.unscoped.filter(
        pk__in=[d.pk for d in deliveries], status=DeliveryStatus.QUEUED
    ).update(claimed_until=None, next_attempt_at=later)


def _release(deliveries):
    Delivery.unscoped.filter(
        pk__in=[d.pk for d in deliveries], status=DeliveryStatus.QUEUED
    ).update(claimed_until=None)


def run_lane(campaign_id, *, seconds=None):
    """Send batches of one campaign for at most `seconds`; return when the next lane should run."""
    campaign = Campaign.unscoped.select_related("sender", "tenant", "segment").get(pk=campaign_id)
    if campaign.status != CampaignStatus.SENDING:
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
        try:
            while time.monotonic() < deadline:
                batch = claim_batch(campaign, settings.CAMPAIGN_BATCH_SIZE)
                if not batch:
                    break
                batch = skip_no_longer_sendable(campaign, batch)
                for index, delivery in enumerate(batch):
                    if index % 50 == 0 and not _still_sending(campaign):
                        _release(batch[index:])
                        return None
                    acquire_send_slots(campaign.tenant_id, rate=rate)
                    try:
                        send_one(transport, compiled, campaign, delivery)
                    except (OSError, EOFError):
                        # The server is unreachable: the rest of the batch waits for the next try.
                        _postpone(batch[index + 1 :])
                        return next_lane_time(campaign)
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


def _still_sending(campaign):
    return Campaign.unscoped.filter(pk=campaign.pk, status=CampaignStatus.SENDING).exists()


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
