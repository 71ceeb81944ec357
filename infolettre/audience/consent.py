"""How long consent to commercial messages lasts (Canada's anti-spam law)."""

import calendar
from datetime import timedelta

from django.utils import timezone
from django.utils.translation import gettext as _

from infolettre.errors import Invalid

from .models import ConsentBasis

IMPLIED_CONSENT_MONTHS = {ConsentBasis.IMPLIED_BUSINESS: 24, ConsentBasis.IMPLIED_INQUIRY: 6}
LAPSE_WARNING = timedelta(days=30)


def add_months(moment, months):
    month = moment.month - 1 + months
    year, month = moment.year + month // 12, month % 12 + 1
    return moment.replace(
        year=year, month=month, day=min(moment.day, calendar.monthrange(year, month)[1])
    )


def consent_expiry(basis, consent_at):
    """When consent of this basis, obtained at `consent_at`, lapses; None when it does not."""
    months = IMPLIED_CONSENT_MONTHS.get(basis)
    return add_months(consent_at, months) if months else None


def consent_is_current(subscription, now=None):
    expires = subscription.consent_expires_at
    return expires is None or expires > (now or timezone.now())


def check_consent(basis, consent_at, source):
    """Validate the proof of consent given for a subscription; return (consent_at, expires_at)."""
    errors = []
    if basis not in ConsentBasis.values:
        errors.append(
            {"field": "consent_basis", "message": _("Choose express or implied consent.")}
        )
    if not (source or "").strip():
        errors.append(
            {"field": "consent_source", "message": _("Say where or how consent was obtained.")}
        )
    if basis in IMPLIED_CONSENT_MONTHS and consent_at is None:
        errors.append(
            {
                "field": "consent_at",
                "message": _("Give the date of the purchase, contract or inquiry."),
            }
        )
    now = timezone.now()
    consent_at = consent_at or now
    if consent_at > now:
        errors.append(
            {"field": "consent_at", "message": _("Consent cannot be dated in the future.")}
        )
    expires_at = consent_expiry(basis, consent_at)
    if expires_at is not None and expires_at <= now:
        errors.append(
            {
                "field": "consent_at",
                "message": _("This implied consent has already lapsed: nothing could be sent."),
            }
        )
    if errors:
        raise Invalid(_("The proof of consent is not valid."), details=errors)
    return consent_at, expires_at
