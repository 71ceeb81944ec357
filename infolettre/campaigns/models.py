import uuid

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from infolettre.accounts.tenancy import TenantOwned


class Template(TenantOwned):
    """An email layout written by the client in HTML, rendered in Jinja2's sandbox."""

    name = models.CharField(_("name"), max_length=200)
    html = models.TextField(_("HTML"))
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name", "id"]
        verbose_name = _("template")


class SenderAddress(TenantOwned):
    """An address the client may send from, once they have confirmed they receive its mail."""

    email = models.EmailField(_("email address"))
    name = models.CharField(_("sender name"), max_length=200)
    verified_at = models.DateTimeField(_("verified on"), null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["email", "id"]
        verbose_name = _("sender address")
        constraints = [
            models.UniqueConstraint(fields=["tenant", "email"], name="one_sender_per_address")
        ]


class SendingProfile(TenantOwned):
    """How one client's campaigns leave, as the operator set it: which transport, how fast."""

    # A name from CAMPAIGN_TRANSPORTS; empty means the deployment's CAMPAIGN_TRANSPORT_URL.
    transport = models.CharField(_("transport"), max_length=50, blank=True)
    # Messages per second for this client; 0 means the deployment's CAMPAIGN_RATE_PER_SECOND.
    rate_per_second = models.PositiveIntegerField(_("messages per second"), default=0)

    class Meta:
        verbose_name = _("sending profile")
        constraints = [
            models.UniqueConstraint(fields=["tenant"], name="one_sending_profile_per_tenant")
        ]


class CampaignStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    SCHEDULED = "scheduled", _("Scheduled")
    SENDING = "sending", _("Sending")
    PAUSED = "paused", _("Paused")
    SENT = "sent", _("Sent")
    CANCELLED = "cancelled", _("Cancelled")


class TrackingMode(models.TextChoices):
    """Whether a campaign counts opens and clicks, and whether per recipient (see tracking.py)."""

    NONE = "", _("Not counted")
    AGGREGATE = "aggregate", _("Counted in total, naming no one")
    PER_RECIPIENT = "per_recipient", _("Counted per recipient")


class Campaign(TenantOwned):
    name = models.CharField(_("name"), max_length=200)
    subject = models.CharField(_("subject"), max_length=300)
    sender = models.ForeignKey(
        SenderAddress, on_delete=models.PROTECT, related_name="+", verbose_name=_("sender")
    )
    reply_to = models.EmailField(_("reply-to address"), blank=True)
    template = models.ForeignKey(
        Template, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # The HTML as launched: later edits of the template do not change a campaign being sent.
    html = models.TextField(blank=True)
    lists = models.ManyToManyField(
        "audience.MailingList", blank=True, related_name="+", verbose_name=_("lists")
    )
    segment = models.ForeignKey(
        "audience.Segment", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    status = models.CharField(
        max_length=16, choices=CampaignStatus.choices, default=CampaignStatus.DRAFT
    )
    scheduled_at = models.DateTimeField(_("send at"), null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    recipient_count = models.PositiveIntegerField(default=0)
    # The organisation's tracking switches as they stood at launch: the footer's notice, the links
    # and the counting of one campaign agree even if the switches change while it is sent.
    tracking = models.CharField(
        max_length=16, choices=TrackingMode.choices, default=TrackingMode.NONE, blank=True
    )
    # The sending machinery (pipeline.py): when a message last left (or sending last started), the
    # generation of lanes allowed to run, and the task ids of the latest lanes, which the watchdog
    # asks the task engine about before starting new ones.
    progressed_at = models.DateTimeField(null=True, blank=True)
    lane_generation = models.PositiveIntegerField(default=0)
    lane_tasks = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("campaign")


class DeliveryStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    SENT = "sent", _("Sent")
    BOUNCED = "bounced", _("Bounced")
    FAILED = "failed", _("Failed")
    # Unsubscribed, suppressed or lapsed between the launch and the moment of sending.
    SKIPPED = "skipped", _("Not sent: no longer subscribed")


class Delivery(TenantOwned):
    """One recipient of one campaign: the send queue, and the proof that each was mailed once."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="deliveries")
    # Kept when the contact is erased, unlinked, so that the campaign's counts stay true.
    contact = models.ForeignKey(
        "audience.Contact", on_delete=models.SET_NULL, null=True, related_name="+"
    )
    email = models.EmailField()
    status = models.CharField(
        max_length=8, choices=DeliveryStatus.choices, default=DeliveryStatus.QUEUED
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    # A worker's claim on a queued delivery; after a crash it lapses and another worker takes it.
    claimed_until = models.DateTimeField(null=True, blank=True)
    message_id = models.UUIDField(default=uuid.uuid4, unique=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    error = models.CharField(max_length=300, blank=True)
    # When the recipient unsubscribed through this message's link: the campaign's unsubscribe count.
    unsubscribed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("delivery")
        constraints = [
            models.UniqueConstraint(fields=["campaign", "contact"], name="one_delivery_per_contact")
        ]
        # Lanes take queued rows in id order: this index lets each claim read only what it takes.
        indexes = [models.Index(fields=["campaign", "status", "id"])]


class BounceKind(models.TextChoices):
    HARD = "hard", _("Hard bounce")
    SOFT = "soft", _("Soft bounce")
    COMPLAINT = "complaint", _("Complaint")


class Bounce(TenantOwned):
    """A delivery status notification or a complaint received about one delivery.

    Soft bounces are counted from these rows: repeated ones for an address suppress it.
    """

    # Kept when the delivery is purged, so that recent soft bounces still count.
    delivery = models.ForeignKey(
        Delivery, on_delete=models.SET_NULL, null=True, related_name="bounces"
    )
    email = models.EmailField()
    kind = models.CharField(max_length=10, choices=BounceKind.choices)
    # The enhanced status code of a bounce (5.1.1) or the feedback type of a complaint (abuse).
    status = models.CharField(max_length=32, blank=True)
    diagnostic = models.CharField(max_length=300, blank=True)
    received_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("bounce")
        constraints = [
            # A report delivered twice is recorded, and counted, once.
            models.UniqueConstraint(fields=["delivery", "kind"], name="one_bounce_of_a_kind")
        ]
        indexes = [models.Index(fields=["tenant", "email", "kind", "received_at"])]


# Open and click counting (see tracking.py) ------------------------------------------------------


class TrackingSettings(TenantOwned):
    """An organisation's two switches for counting opens and clicks; both off until it says so."""

    count_opens_and_clicks = models.BooleanField(_("count opens and clicks"), default=False)
    # Only meaningful with the first: who opened and clicked, not only how many times.
    per_recipient = models.BooleanField(_("per recipient"), default=False)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("tracking settings")
        constraints = [
            models.UniqueConstraint(fields=["tenant"], name="one_tracking_settings_per_tenant")
        ]


class CampaignLink(TenantOwned):
    """One distinct address a campaign links to: the only place its click redirect may lead."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="links")
    url = models.CharField(max_length=2000)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("campaign link")
        constraints = [
            models.UniqueConstraint(fields=["campaign", "url"], name="one_link_per_campaign_url")
        ]


class OpenCount(TenantOwned):
    """How many times a campaign was opened in one hour, people and machines apart; no one named."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="+")
    hour = models.DateTimeField()
    people = models.PositiveIntegerField(default=0)
    machines = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("open count")
        constraints = [
            models.UniqueConstraint(fields=["campaign", "hour"], name="one_open_count_per_hour")
        ]


class ClickCount(TenantOwned):
    """How many times one link was clicked in one hour, people and machines apart; no one named."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="+")
    link = models.ForeignKey(CampaignLink, on_delete=models.CASCADE, related_name="+")
    hour = models.DateTimeField()
    people = models.PositiveIntegerField(default=0)
    machines = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("click count")
        constraints = [
            models.UniqueConstraint(fields=["link", "hour"], name="one_click_count_per_hour")
        ]
        indexes = [models.Index(fields=["campaign", "hour"])]


class DeliveryEngagement(TenantOwned):
    """When one recipient first opened and first clicked a campaign: per-recipient mode only."""

    delivery = models.OneToOneField(Delivery, on_delete=models.CASCADE, related_name="engagement")
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="+")
    first_opened_at = models.DateTimeField(null=True, blank=True)
    first_clicked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("delivery engagement")
        indexes = [models.Index(fields=["campaign"])]


class TrackingFlush(models.Model):
    """One batch of opens and clicks moved from Redis into the tables: its id, written in the same
    transaction as its counts, so a batch seen again after a crash is not counted twice."""

    batch = models.CharField(max_length=100, unique=True)
    flushed_at = models.DateTimeField(default=timezone.now, db_index=True)
