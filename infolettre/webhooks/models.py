"""A client's webhook endpoints, and the log of every event delivered (or not) to them."""

import uuid

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from infolettre.accounts.tenancy import TenantOwned
from infolettre.privacy.fields import EncryptedCharField


class WebhookEvent(models.TextChoices):
    SUBSCRIBE = "subscribe", _("A contact subscribed to a list")
    UNSUBSCRIBE = "unsubscribe", _("A contact left a list")
    BOUNCE = "bounce", _("A message bounced")
    COMPLAINT = "complaint", _("A recipient complained")
    CAMPAIGN_FINISHED = "campaign_finished", _("A campaign finished sending")
    # Sent on demand to try an endpoint; nobody subscribes to it.
    PING = "ping", _("Test")


SUBSCRIBABLE_EVENTS = tuple(e for e in WebhookEvent if e != WebhookEvent.PING)


class WebhookEndpoint(TenantOwned):
    """An address of the client's that receives the events it chose, signed with its secret."""

    url = models.URLField(_("address"), max_length=500)
    events = models.JSONField(_("events"), default=list)
    # The key of the HMAC signature; the client's server keeps a copy to verify each request.
    # Read back to sign, so encrypted at rest rather than hashed (webhooks.personal_data).
    secret = EncryptedCharField(max_length=100)
    active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created on"), default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("webhook endpoint")


class WebhookDeliveryStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    DELIVERED = "delivered", _("Delivered")
    FAILED = "failed", _("Failed")


class WebhookDelivery(TenantOwned):
    """One event for one endpoint: what was sent, how often, and what the endpoint answered."""

    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries"
    )
    event = models.CharField(max_length=32, choices=WebhookEvent.choices)
    # The same for every endpoint that receives this event: receivers use it to ignore repeats.
    event_id = models.UUIDField(default=uuid.uuid4)
    # Set when an event must reach an endpoint once only (a campaign finishes once).
    dedupe_key = models.CharField(max_length=100, blank=True)
    payload = models.JSONField()
    status = models.CharField(
        max_length=16,
        choices=WebhookDeliveryStatus.choices,
        default=WebhookDeliveryStatus.PENDING,
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    # A worker's claim while it sends; after a crash it lapses and the sweep tries again.
    claimed_until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("webhook delivery")
        constraints = [
            models.UniqueConstraint(
                fields=["endpoint", "event", "dedupe_key"],
                condition=~Q(dedupe_key=""),
                name="one_delivery_per_dedupe_key",
            )
        ]
        indexes = [models.Index(fields=["status", "next_attempt_at"])]
