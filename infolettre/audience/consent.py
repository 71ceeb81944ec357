"""How long consent to commercial messages lasts (Canada's anti-spam law)."""

import calendar
from datetime import timedelta

from django.utils import timezone

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
