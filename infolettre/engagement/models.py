"""The operator's own messages to its clients and users, and the people who asked for its newsletter."""

import uuid

from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class NewsletterSubscriber(models.Model):
    """A person without a client account who asked for the operator's newsletter (a "Utilisateur").

    The row says who asked and whether the address was confirmed; whether they still want the
    newsletter is only ever read from the consent ledger.
    """

    email = models.EmailField(_("email address"), unique=True)
    name = models.CharField(_("name"), max_length=200)
    language = models.CharField(_("language"), max_length=8, default="fr")
    created_at = models.DateTimeField(_("signed up on"), default=timezone.now)
    # Set by a sign-up that waits for its confirmation link; cleared once the link is followed.
    confirmation_requested_at = models.DateTimeField(
        _("confirmation asked on"), null=True, blank=True
    )
    confirmed_at = models.DateTimeField(_("address confirmed on"), null=True, blank=True)

    class Meta:
        verbose_name = _("newsletter subscriber")

    def __str__(self):
        return self.name


class OperatorMessageKind(models.TextChoices):
    NEWSLETTER = "newsletter", _("Newsletter")
    SPECIAL_OFFERS = "special_offers", _("Special offers")
    SERVICE_NOTICE = "service_notice", _("Service notice")


class OperatorMessage(models.Model):
    """One message of the operator to its clients and users, of one kind."""

    kind = models.CharField(_("kind"), max_length=32, choices=OperatorMessageKind.choices)
    subject = models.CharField(_("subject"), max_length=200)
    html_body = models.TextField(_("HTML body"))
    text_body = models.TextField(_("text body"), blank=True)
    # Said by whoever writes the message; a service notice that says yes is refused.
    contains_promotion = models.BooleanField(_("contains promotion"), default=False)
    created_at = models.DateTimeField(_("created on"), default=timezone.now)
    sent_at = models.DateTimeField(_("sent on"), null=True, blank=True)
    recipient_count = models.PositiveIntegerField(_("recipients"), default=0)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("operator message")

    def __str__(self):
        return self.subject


class DeliveryStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    SENDING = "sending", _("Sending")
    SENT = "sent", _("Sent")
    SKIPPED = "skipped", _("Skipped")
    FAILED = "failed", _("Failed")


class OperatorDelivery(models.Model):
    """One recipient of one operator message: written before the send, so a second run skips it.

    The recipient is named like the consent ledger names people (a client user or a newsletter
    subscriber); their address is read at send time and not copied here.
    """

    message = models.ForeignKey(
        OperatorMessage, on_delete=models.CASCADE, related_name="deliveries"
    )
    subject_type = models.ForeignKey(ContentType, on_delete=models.PROTECT)
    subject_id = models.BigIntegerField()
    # Random: the unsubscribe link signs it, so the link carries neither an address nor a guessable id.
    token = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    status = models.CharField(max_length=16, choices=DeliveryStatus.choices, default="queued")
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("operator message delivery")
        constraints = [
            models.UniqueConstraint(
                fields=["message", "subject_type", "subject_id"],
                name="one_operator_delivery_per_recipient",
            )
        ]

    @property
    def recipient(self):
        """The user or subscriber this delivery is for, or None once they are gone."""
        model = self.subject_type.model_class()
        return model._default_manager.filter(pk=self.subject_id).first()
