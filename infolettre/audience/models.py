import re
import secrets

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from infolettre.accounts.tenancy import TenantOwned
from infolettre.privacy.fields import EncryptedCharField, KeyedHashField

# The names of a contact's attributes, the same for forms, the API, imports and segments.
ATTRIBUTE_KEY = re.compile(r"[a-z0-9_]{1,64}")
# The purpose of a contact's phone hash (privacy.pseudonymise.keyed_hash): the same in every tenant,
# so tenant_id goes beside it in each lookup.
PHONE_HASH_PURPOSE = "audience.contact.phone"


def new_public_key():
    return secrets.token_urlsafe(12)


class MailingList(TenantOwned):
    """A client's mailing list: the people on it are the policy's "third parties" and belong to the client."""

    name = models.CharField(_("name"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    # New sign-ups from a public form must confirm their address before they are mailed.
    double_opt_in = models.BooleanField(_("double opt-in"), default=True)
    public_signup = models.BooleanField(_("public sign-up form"), default=False)
    public_key = models.CharField(max_length=32, unique=True, default=new_public_key)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name", "id"]
        verbose_name = _("mailing list")
        constraints = [
            models.UniqueConstraint(fields=["tenant", "name"], name="list_name_unique_per_tenant")
        ]

    def __str__(self):
        return self.name


class Contact(TenantOwned):
    """A person on one or more of a client's lists; an address is unique within the client."""

    email = models.EmailField(_("email address"))
    name = models.CharField(_("name"), max_length=200, blank=True)
    # Confidential: encrypted at rest (E.164, as every writer normalises it); found by its keyed
    # hash, the only form the database can compare (queries.contacts_with_phone).
    phone = EncryptedCharField(_("mobile phone"), max_length=32, blank=True)
    phone_hash = KeyedHashField(
        _("mobile phone (keyed hash)"), source="phone", purpose=PHONE_HASH_PURPOSE, db_default=""
    )
    attributes = models.JSONField(_("attributes"), default=dict, blank=True)
    # Set only when the client has switched on per-recipient tracking (off by default).
    engaged_at = models.DateTimeField(_("last engagement"), null=True, blank=True)
    created_at = models.DateTimeField(_("added on"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated on"), default=timezone.now)

    class Meta:
        ordering = ["email", "id"]
        verbose_name = _("contact")
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "email"], name="contact_email_unique_per_tenant"
            )
        ]
        indexes = [models.Index(fields=["tenant", "phone_hash"], name="contact_phone_hash")]

    def __str__(self):
        return self.email

    def save(self, *args, update_fields=None, **kwargs):
        # The hash follows the phone even when only the phone is saved.
        if update_fields is not None and "phone" in update_fields:
            update_fields = {*update_fields, "phone_hash"}
        super().save(*args, update_fields=update_fields, **kwargs)


class SubscriptionStatus(models.TextChoices):
    UNCONFIRMED = "unconfirmed", _("Unconfirmed")
    SUBSCRIBED = "subscribed", _("Subscribed")
    UNSUBSCRIBED = "unsubscribed", _("Unsubscribed")


class ConsentBasis(models.TextChoices):
    """How consent to commercial messages was obtained (Canada's anti-spam law)."""

    EXPRESS = "express", _("Express consent")
    IMPLIED_BUSINESS = "implied_business", _("Implied: existing business relationship (2 years)")
    IMPLIED_INQUIRY = "implied_inquiry", _("Implied: inquiry (6 months)")


class Subscription(TenantOwned):
    """A contact on a list, with the proof of how their consent was obtained."""

    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="subscriptions")
    mailing_list = models.ForeignKey(
        MailingList, on_delete=models.CASCADE, related_name="subscriptions"
    )
    status = models.CharField(_("status"), max_length=16, choices=SubscriptionStatus.choices)
    consent_basis = models.CharField(
        _("consent basis"), max_length=20, choices=ConsentBasis.choices
    )
    # Express: when it was given. Implied: the date of the purchase, contract or inquiry.
    consent_at = models.DateTimeField(_("consent obtained on"))
    # Implied consent lapses; express consent does not (until withdrawn).
    consent_expires_at = models.DateTimeField(_("consent lapses on"), null=True, blank=True)
    consent_source = models.CharField(_("consent source"), max_length=300)
    consent_wording = models.TextField(_("words shown"), blank=True)
    created_at = models.DateTimeField(_("added on"), default=timezone.now)
    confirmed_at = models.DateTimeField(_("confirmed on"), null=True, blank=True)
    unsubscribed_at = models.DateTimeField(_("unsubscribed on"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("subscription")
        constraints = [
            models.UniqueConstraint(
                fields=["mailing_list", "contact"], name="one_subscription_per_list"
            )
        ]
        indexes = [
            models.Index(fields=["mailing_list", "status"]),
            models.Index(fields=["tenant", "consent_expires_at"]),
        ]


class SuppressionReason(models.TextChoices):
    UNSUBSCRIBED = "unsubscribed", _("Unsubscribed")
    BOUNCED = "bounced", _("Bounced")
    COMPLAINED = "complained", _("Complained")
    MANUAL = "manual", _("Added by hand")


class Suppression(TenantOwned):
    """An address the client never mails again, whatever list or import it comes back from.

    Lookups use the keyed hash, so that after an erasure the hash alone still blocks the address.
    """

    email = models.EmailField(_("email address"), blank=True)
    email_hash = models.CharField(max_length=64)
    reason = models.CharField(_("reason"), max_length=16, choices=SuppressionReason.choices)
    created_at = models.DateTimeField(_("suppressed on"), default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("suppressed address")
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "email_hash"], name="one_suppression_per_address"
            )
        ]


class ImportMode(models.TextChoices):
    ADD_OR_UPDATE = "add_or_update", _("Add new contacts and update existing ones")
    ADD_ONLY = "add_only", _("Add new contacts only; leave existing ones as they are")


class ImportStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Importing")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed")


class ContactImport(TenantOwned):
    """A CSV file imported into a list in the background, with its progress and its report."""

    mailing_list = models.ForeignKey(MailingList, on_delete=models.CASCADE, related_name="imports")
    created_by = models.ForeignKey(
        "accounts.User", on_delete=models.SET_NULL, null=True, related_name="+"
    )
    filename = models.CharField(_("file name"), max_length=255)
    file = models.FileField(upload_to="imports/", blank=True)
    encoding = models.CharField(max_length=16, default="utf-8")
    delimiter = models.CharField(max_length=1, default=",")
    # Column header -> "email", "name", "first_name", "last_name", "phone", "attribute:<key>" or ""
    # (ignored); a first and a last name make the name when the row has no full name.
    mapping = models.JSONField(default=dict)
    # Attribute key -> "string", "integer", "number", "boolean" or "date", inferred from the file.
    attribute_types = models.JSONField(default=dict)
    mode = models.CharField(
        max_length=16, choices=ImportMode.choices, default=ImportMode.ADD_OR_UPDATE
    )
    consent_basis = models.CharField(max_length=20, choices=ConsentBasis.choices)
    consent_at = models.DateTimeField()
    consent_source = models.CharField(max_length=300, blank=True)
    consent_wording = models.TextField(blank=True)
    status = models.CharField(
        max_length=16, choices=ImportStatus.choices, default=ImportStatus.QUEUED
    )
    total_rows = models.PositiveIntegerField(default=0)
    processed_rows = models.PositiveIntegerField(default=0)
    created_count = models.PositiveIntegerField(default=0)
    updated_count = models.PositiveIntegerField(default=0)
    unchanged_count = models.PositiveIntegerField(default=0)
    duplicate_count = models.PositiveIntegerField(default=0)
    suppressed_count = models.PositiveIntegerField(default=0)
    rejected_count = models.PositiveIntegerField(default=0)
    # People who had unsubscribed from this list: their row is reported, they stay unsubscribed.
    unsubscribed_count = models.PositiveIntegerField(default=0)
    # Rejected rows: line number, reason and the row as read, downloadable as CSV.
    report = models.FileField(upload_to="imports/reports/", blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("contact import")


class Segment(TenantOwned):
    """A saved filter over a client's contacts, built from safe conditions (never SQL)."""

    name = models.CharField(_("name"), max_length=200)
    definition = models.JSONField(_("conditions"), default=dict)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name", "id"]
        verbose_name = _("segment")
