"""Implied consent lapses as Canada's anti-spam law says; express consent does not."""

from datetime import UTC, datetime

from infolettre.audience.consent import add_months, consent_expiry
from infolettre.audience.models import ConsentBasis


def test_a_business_relationship_gives_two_years_and_an_inquiry_six_months():
    start = datetime(2026, 3, 15, 10, 0, tzinfo=UTC)
    assert consent_expiry(ConsentBasis.IMPLIED_BUSINESS, start) == datetime(
        2028, 3, 15, 10, 0, tzinfo=UTC
    )
    assert consent_expiry(ConsentBasis.IMPLIED_INQUIRY, start) == datetime(
        2026, 9, 15, 10, 0, tzinfo=UTC
    )
    assert consent_expiry(ConsentBasis.EXPRESS, start) is None


def test_month_ends_and_leap_days_fall_on_the_last_day_of_the_month():
    assert add_months(datetime(2028, 2, 29, tzinfo=UTC), 24) == datetime(2030, 2, 28, tzinfo=UTC)
    assert add_months(datetime(2026, 8, 31, tzinfo=UTC), 6) == datetime(2027, 2, 28, tzinfo=UTC)
    assert add_months(datetime(2026, 12, 1, tzinfo=UTC), 1) == datetime(2027, 1, 1, tzinfo=UTC)
