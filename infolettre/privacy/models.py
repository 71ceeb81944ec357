import uuid

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from .purposes import PURPOSES


class PolicyVersion(models.Model):
    """One published version of the privacy policy, in French and English."""

    version = models.CharField(max_length=32, unique=True)
    published_at = models.DateTimeField(default=timezone.now)
    summary_fr = models.TextField(blank=True)
    summary_en = models.TextField(blank=True)
    body_fr = models.TextField()
    body_en = models.TextField()
    # The purposes (codes) this version adds as uses of confidential data; each may be refused.
    new_uses = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["-published_at"]

    def __str__(self):
        return self.version

    @property
    def body(self):
        return self.body_en if (get_language() or "fr").startswith("en") else self.body_fr


class AppendOnlyQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise TypeError(f"{self.model.__name__} is append-only: record a new entry instead.")

    def delete(self):
        raise TypeError(f"{self.model.__name__} is append-only: record a new entry instead.")


class AppendOnly(models.Model):
    """A ledger row: written once, never changed, so it can prove what happened."""

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise TypeError(f"{type(self).__name__} is append-only: record a new entry instead.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise TypeError(f"{type(self).__name__} is append-only: record a new entry instead.")


class ConsentEvent(AppendOnly):
    """A consent given or withdrawn by one person for one purpose, with the proof the law asks for."""

    subject_type = models.ForeignKey(ContentType, on_delete=models.PROTECT)
    subject_id = models.BigIntegerField()
    # The client organisation the person's consent was given to; empty for the operator itself.
    tenant_id = models.BigIntegerField(null=True, blank=True)
    purpose = models.CharField(
        _("purpose"), max_length=32, choices=[(code, p.label) for code, p in PURPOSES.items()]
    )
    given = models.BooleanField(_("consent given"))
    policy_version = models.ForeignKey(PolicyVersion, on_delete=models.PROTECT)
    # The exact words the person was shown when they gave or withdrew consent.
    wording = models.TextField(_("words shown"))
    source = models.CharField(
        _("where"), max_length=200, help_text=_("The form or route where it happened.")
    )
    occurred_at = models.DateTimeField(_("when"), default=timezone.now)

    class Meta:
        ordering = ["occurred_at", "id"]
        verbose_name = _("consent answer")
        indexes = [models.Index(fields=["subject_type", "subject_id", "purpose", "occurred_at"])]


class PolicyAcceptance(AppendOnly):
    """A person accepted a version of the privacy policy."""

    subject_type = models.ForeignKey(ContentType, on_delete=models.PROTECT)
    subject_id = models.BigIntegerField()
    policy_version = models.ForeignKey(PolicyVersion, on_delete=models.PROTECT)
    source = models.CharField(_("where"), max_length=200)
    accepted_at = models.DateTimeField(_("accepted on"), default=timezone.now)

    class Meta:
        ordering = ["accepted_at", "id"]
        verbose_name = _("policy acceptance")
        indexes = [models.Index(fields=["subject_type", "subject_id"])]


class PolicyNoticeStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    SENDING = "sending", _("Sending")
    SENT = "sent", _("Sent")
    SKIPPED = "skipped", _("Skipped")
    FAILED = "failed", _("Failed")


class PolicyNotice(models.Model):
    """The notice of a new policy version to one person: written before it is sent, so a second
    run sends nothing twice. The person is named like the consent ledger names them (a client
    user or a newsletter subscriber); their address is read at send time and not copied here."""

    policy_version = models.ForeignKey(
        PolicyVersion, on_delete=models.PROTECT, related_name="notices"
    )
    subject_type = models.ForeignKey(ContentType, on_delete=models.PROTECT)
    subject_id = models.BigIntegerField()
    # Random: the refusal links sign it, so they carry neither an address nor a guessable id.
    token = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    status = models.CharField(
        max_length=16, choices=PolicyNoticeStatus.choices, default=PolicyNoticeStatus.QUEUED
    )
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        verbose_name = _("policy change notice")
        constraints = [
            models.UniqueConstraint(
                fields=["policy_version", "subject_type", "subject_id"],
                name="one_policy_notice_per_person",
            )
        ]

    @property
    def recipient(self):
        """The user or subscriber this notice is for, or None once they are gone."""
        model = self.subject_type.model_class()
        return model._default_manager.filter(pk=self.subject_id).first()


# Privacy requests and the confidentiality incident register -----------------------------------

PRIVACY_REQUEST_HASH_PURPOSE = "privacy-request"


def privacy_request_email_hash(email):
    """The keyed hash a PrivacyRequest keeps of its lower-cased address (retention holds by it)."""
    from .pseudonymise import keyed_hash

    return keyed_hash(email.strip().lower(), PRIVACY_REQUEST_HASH_PURPOSE)


class PrivacyRequestKind(models.TextChoices):
    ACCESS = "access", _("Access to my personal information")
    CORRECTION = "correction", _("Correction of my personal information")
    ERASURE = "erasure", _("Erasure of my personal information")
    QUESTION = "question", _("A question about privacy")
    COMPLAINT = "complaint", _("A complaint")


class PrivacyRequestStatus(models.TextChoices):
    AWAITING_PROOF = "awaiting_proof", _("Awaiting proof of address")
    OPEN = "open", _("Open")
    ANSWERED = "answered", _("Answered")
    REFUSED = "refused", _("Refused")


class PrivacyRequest(models.Model):
    """A person's access, correction or erasure request, question or complaint, due in 30 days."""

    kind = models.CharField(_("kind"), max_length=16, choices=PrivacyRequestKind.choices)
    # Needed to answer; declared personal data.
    email = models.EmailField(_("email address"))
    # Keyed hash of the lower-cased address, set once the address is proven: retention holds the
    # data of people with an open request by it, and an unproven request (anyone can type anyone's
    # address) must hold nothing.
    email_hash = models.CharField(max_length=64, blank=True, db_index=True)
    language = models.CharField(_("language"), max_length=8, default="fr")
    message = models.TextField(_("request"), blank=True)
    # The client whose lists hold the person as a contact, when exactly one does.
    tenant = models.ForeignKey(
        "accounts.Organisation",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="privacy_requests",
    )
    # The signed-in client user who made it, if any.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="privacy_requests",
    )
    status = models.CharField(
        _("status"),
        max_length=16,
        choices=PrivacyRequestStatus.choices,
        default=PrivacyRequestStatus.AWAITING_PROOF,
    )
    received_at = models.DateTimeField(_("received on"), default=timezone.now)
    due_at = models.DateTimeField(_("due on"))
    verified_at = models.DateTimeField(_("address proven on"), null=True, blank=True)
    extended_at = models.DateTimeField(_("extended on"), null=True, blank=True)
    extension_reason = models.TextField(_("extension notice"), blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    # What was corrected, for a correction request.
    correction_done = models.TextField(_("correction made"), blank=True)
    answer = models.TextField(_("answer"), blank=True)
    answered_at = models.DateTimeField(_("answered on"), null=True, blank=True)
    answered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    closed_at = models.DateTimeField(_("closed on"), null=True, blank=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        verbose_name = _("privacy request")
        indexes = [models.Index(fields=["closed_at", "due_at"])]

    def __str__(self):
        return f"{self.get_kind_display()} #{self.pk}"


class ConfidentialityIncident(models.Model):
    """One entry of the confidentiality incident register (minor incidents included); never deleted."""

    title = models.CharField(_("what happened"), max_length=200)
    data_involved = models.TextField(_("personal information involved"))
    circumstances = models.TextField(_("circumstances"))
    occurred_on = models.DateField(_("date it happened"))
    discovered_on = models.DateField(_("date discovered"))
    people_affected = models.PositiveIntegerField(_("number of people affected"))
    serious_injury_risk = models.BooleanField(_("risk of serious injury"))
    risk_assessment = models.TextField(_("risk assessment"))
    regulator_notified_on = models.DateField(_("regulator notified on"), null=True, blank=True)
    people_notified_on = models.DateField(_("people notified on"), null=True, blank=True)
    measures = models.TextField(_("measures taken"), blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    recorded_at = models.DateTimeField(_("recorded on"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated on"), default=timezone.now)

    class Meta:
        ordering = ["-discovered_on", "-id"]
        verbose_name = _("confidentiality incident")


# The disclosure log and the record of what was destroyed ----------------------------------------


class DisclosureKind(models.TextChoices):
    TRANSFER = "transfer", _("Personal information sent")
    CORRECTION = "correction", _("Correction passed on")


class Disclosure(AppendOnly):
    """Personal information handed to a processor or a partner: who, which categories, when, why.

    Campaign mail writes one row per transport session and campaign, not one per message (the
    pipeline sends hundreds a second): a person's share is found by joining their deliveries
    (campaign, sent_at) to these rows. Rows about one person (an operator message, a correction
    passed on) carry a keyed hash of the address, never the address.
    """

    kind = models.CharField(
        _("kind"), max_length=16, choices=DisclosureKind.choices, default=DisclosureKind.TRANSFER
    )
    recipient = models.CharField(_("recipient"), max_length=200)
    categories = models.JSONField(_("categories"), default=list)
    purpose = models.CharField(_("purpose"), max_length=32)
    # Why: "campaign:<id>", "message:<kind>" or "correction:<model>".
    reason = models.CharField(_("why"), max_length=100)
    campaign_id = models.BigIntegerField(null=True, blank=True)
    tenant_id = models.BigIntegerField(null=True, blank=True)
    subject_hash = models.CharField(max_length=64, blank=True, db_index=True)
    # The first delivery sent in this session; with the campaign it places the session's messages.
    first_delivery_id = models.BigIntegerField(null=True, blank=True)
    outcome = models.TextField(_("outcome"), blank=True)
    occurred_at = models.DateTimeField(_("when"), default=timezone.now)

    class Meta:
        ordering = ["occurred_at", "id"]
        verbose_name = _("disclosure")
        indexes = [models.Index(fields=["campaign_id", "occurred_at"])]


class ErasureCause(models.TextChoices):
    REQUEST = "request", _("Erasure request")
    CLIENT = "client", _("Erased by the client")
    RETENTION = "retention", _("Retention period over")


class ErasureRecord(AppendOnly):
    """What was destroyed or anonymised, by model, category and count; never what it said."""

    cause = models.CharField(_("cause"), max_length=16, choices=ErasureCause.choices)
    tenant_id = models.BigIntegerField(null=True, blank=True)
    # {"audience.Contact": {"deleted": 2, "anonymised": 0, "categories": ["contact", ...]}, ...}
    counts = models.JSONField(_("counts"), default=dict)
    occurred_at = models.DateTimeField(_("when"), default=timezone.now)

    class Meta:
        ordering = ["occurred_at", "id"]
        verbose_name = _("erasure record")


# The audit trail ---------------------------------------------------------------------------------


class AuditAction(models.TextChoices):
    """What an audit entry records; one code per kind of sensitive act."""

    CONFIDENTIAL_READ = "confidential_read", _("Confidential data read")
    REVEAL = "reveal", _("Confidential value revealed")
    EXPORT = "export", _("Export")
    ROLE_CHANGE = "role_change", _("Role changed")
    MEMBER_REMOVAL = "member_removal", _("Member removed")
    ACCESS_GRANT = "access_grant", _("Access granted")
    ACCESS_REVOKE = "access_revoke", _("Access revoked")
    PRIVACY_REQUEST_VERIFIED = "privacy_request_verified", _("Privacy request verified")
    PRIVACY_REQUEST_EXTENDED = "privacy_request_extended", _("Privacy request extended")
    PRIVACY_REQUEST_ANSWERED = "privacy_request_answered", _("Privacy request answered")
    PRIVACY_REQUEST_REFUSED = "privacy_request_refused", _("Privacy request refused")
    PRIVACY_REQUEST_CLOSED = "privacy_request_closed", _("Privacy request closed")
    ERASURE = "erasure", _("Erasure")
    RETENTION_RUN = "retention_run", _("Retention run")
    INCIDENT_CREATED = "incident_created", _("Incident recorded")
    INCIDENT_EDITED = "incident_edited", _("Incident edited")
    CONSENT_REFUSAL = "consent_refusal", _("Consent refused")
    STAFF_SIGN_IN = "staff_sign_in", _("Staff sign-in")
    STAFF_SIGN_IN_FAILED = "staff_sign_in_failed", _("Staff sign-in failed")
    KEY_ROTATION = "key_rotation", _("Encryption key rotation")
    POLICY_PUBLISHED = "policy_published", _("Privacy policy version published")
    RECOVERY_CODES_REGENERATED = "recovery_codes_regenerated", _("Recovery codes regenerated")
    SECOND_FACTOR_RESET = "second_factor_reset", _("Second factor reset")


class AuditEntry(AppendOnly):
    """One act on personal data or rights, chained to the previous entry by a SHA-256 hash.

    It names people by account id and role only; details hold ids, counts and field names.
    """

    sequence = models.PositiveBigIntegerField(_("sequence"), unique=True)
    occurred_at = models.DateTimeField(_("when"), default=timezone.now)
    # The account that acted (no foreign key: the trail outlives the account) and its role then:
    # "staff:<role>", "client:<role>", "subject" (a person acting on their own data) or "system".
    actor_id = models.BigIntegerField(null=True, blank=True)
    actor_role = models.CharField(_("actor role"), max_length=40)
    action = models.CharField(_("action"), max_length=40, choices=AuditAction.choices)
    # "<app_label.model>:<pk>", or empty.
    target = models.CharField(_("target"), max_length=200, blank=True)
    tenant_id = models.BigIntegerField(null=True, blank=True)
    reason = models.TextField(_("reason"), blank=True)
    details = models.JSONField(_("details"), default=dict, blank=True)
    previous_hash = models.CharField(max_length=64)
    entry_hash = models.CharField(max_length=64, unique=True)

    class Meta:
        ordering = ["sequence"]
        verbose_name = _("audit entry")
        verbose_name_plural = _("audit trail")
        indexes = [models.Index(fields=["action", "occurred_at"])]

    def __str__(self):
        return f"#{self.sequence} {self.action}"
