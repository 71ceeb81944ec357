from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from infolettre.accounts.models import StaffRole
from infolettre.accounts.tenancy import TenantOwned


class AccessGrant(TenantOwned):
    """A client owner's leave for the operator's staff to see the client's lists and contacts.

    It names one staff member, or every staff member of one role, for a support case, and holds
    from `starts_at` until `expires_at` (a few days at most) or until the owner revokes it.
    """

    staff_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("staff member"),
    )
    role = models.CharField(_("staff role"), max_length=16, choices=StaffRole.choices, blank=True)
    case_reference = models.CharField(_("support case reference"), max_length=100)
    granted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    starts_at = models.DateTimeField(_("starts on"), default=timezone.now)
    expires_at = models.DateTimeField(_("expires on"))
    revoked_at = models.DateTimeField(_("revoked on"), null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-starts_at", "-id"]
        verbose_name = _("staff access grant")
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(staff_user__isnull=True, role=""),
                name="access_grant_names_a_staff_member_or_a_role",
            ),
            models.CheckConstraint(
                condition=models.Q(expires_at__gt=models.F("starts_at")),
                name="access_grant_expires_after_it_starts",
            ),
        ]

    def is_active(self, now=None):
        now = now or timezone.now()
        return self.revoked_at is None and self.starts_at <= now < self.expires_at

    def covers(self, user):
        if self.staff_user_id is not None:
            return self.staff_user_id == user.pk
        return self.role == user.staff_role
