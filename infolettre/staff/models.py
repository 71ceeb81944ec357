import time
from base64 import b32encode
from binascii import unhexlify
from urllib.parse import quote, urlencode

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_otp.models import Device, ThrottlingMixin, TimestampMixin
from django_otp.oath import TOTP
from django_otp.util import hex_validator, random_hex

from infolettre.accounts.models import StaffRole
from infolettre.accounts.tenancy import TenantOwned
from infolettre.privacy.fields import EncryptedCharField


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


def default_totp_key():
    """A fresh TOTP seed: 20 random bytes, hex-encoded (RFC 4226's recommended length)."""
    return random_hex(20)


def totp_key_validator(value):
    return hex_validator()(value)


class StaffTOTPDevice(TimestampMixin, ThrottlingMixin, Device):
    """A staff member's authenticator app (TOTP, RFC 6238), its seed encrypted at rest.

    django-otp's own TOTPDevice keeps the seed in clear in a table of its own; this one keeps it in
    an encrypted field and otherwise verifies as django-otp does: a tolerance of one step each
    way, the clock drift learnt, no code accepted twice (`last_t`), and exponential back-off after
    wrong codes. OTPMiddleware finds it like any other Device (its persistent id names this model).
    """

    key = EncryptedCharField(
        _("key"), max_length=80, validators=[totp_key_validator], default=default_totp_key
    )
    step = models.PositiveSmallIntegerField(default=30)
    t0 = models.BigIntegerField(default=0)
    digits = models.PositiveSmallIntegerField(choices=[(6, 6), (8, 8)], default=6)
    tolerance = models.PositiveSmallIntegerField(default=1)
    drift = models.SmallIntegerField(default=0)
    # The time step of the last code accepted: only a later one is accepted next (no replay).
    last_t = models.BigIntegerField(default=-1)

    class Meta(Device.Meta):
        verbose_name = _("staff authenticator")

    @property
    def bin_key(self):
        return unhexlify(self.key.encode())

    def totp(self):
        return TOTP(self.bin_key, self.step, self.t0, self.digits, self.drift)

    def verify_token(self, token):
        """Accept a current code once; save the device either way (throttling counts failures).

        Call it on a row locked for update (select_for_update), so that two requests cannot both
        accept the same code."""
        allowed, _details = self.verify_is_allowed()
        if not allowed:
            return False
        try:
            token = int(token)
        except (TypeError, ValueError):
            verified = False
        else:
            totp = self.totp()
            totp.time = time.time()
            verified = totp.verify(token, self.tolerance, self.last_t + 1)
        if verified:
            self.last_t = totp.t()
            if getattr(settings, "OTP_TOTP_SYNC", True):
                self.drift = totp.drift
            self.throttle_reset(commit=False)
            self.set_last_used_timestamp(commit=False)
            self.save()
        else:
            self.throttle_increment(commit=True)
        return verified

    def get_throttle_factor(self):
        return getattr(settings, "OTP_TOTP_THROTTLE_FACTOR", 1)

    @property
    def config_url(self):
        """The otpauth:// address an authenticator app reads from the QR code."""
        issuer = (getattr(settings, "OTP_TOTP_ISSUER", "") or "").replace(":", "")
        label = f"{issuer}:{self.user.get_username()}" if issuer else self.user.get_username()
        params = {
            "secret": b32encode(self.bin_key),
            "algorithm": "SHA1",
            "digits": self.digits,
            "period": self.step,
        }
        query = urlencode(params)
        if issuer:
            query += f"&issuer={quote(issuer)}"
        return f"otpauth://totp/{quote(label)}?{query}"


class StaffRecoveryCode(models.Model):
    """One single-use recovery code of a staff member, kept only as a password hash.

    It stands in for the authenticator's code when the app is lost; the codes are shown once when
    made, and making new ones deletes the old.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    code_hash = models.CharField(_("recovery code"), max_length=128)
    created_at = models.DateTimeField(_("created on"), default=timezone.now)
    used_at = models.DateTimeField(_("used on"), null=True, blank=True)

    class Meta:
        ordering = ["pk"]
        verbose_name = _("staff recovery code")
