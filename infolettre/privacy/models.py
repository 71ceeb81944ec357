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
