from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from infolettre.accounts.tenancy import TenantOwned


class DailyReport(TenantOwned):
    """One organisation's activity report of one local day: claimed once, whoever runs it.

    The row is inserted before anything is sent; the unique constraint makes that insert the claim.
    A worker that dies mid-way leaves `claimed_until` to lapse, and the next run resumes the report.
    """

    day = models.DateField(_("day"))
    claimed_until = models.DateTimeField(null=True, blank=True)
    # The totals the message showed (counts only, no person).
    figures = models.JSONField(default=dict)
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-day", "-id"]
        verbose_name = _("daily activity report")
        constraints = [
            models.UniqueConstraint(fields=["tenant", "day"], name="one_daily_report_per_day")
        ]


class DailyReportSend(models.Model):
    """One user's copy of one daily report: claimed before sending, so nobody gets it twice."""

    report = models.ForeignKey(DailyReport, on_delete=models.CASCADE, related_name="sends")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    claimed_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("daily report sent")
        constraints = [
            models.UniqueConstraint(fields=["report", "user"], name="one_daily_report_per_user")
        ]
