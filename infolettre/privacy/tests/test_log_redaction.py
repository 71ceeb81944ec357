"""Personal data that reaches a log line is masked before it is written."""

import logging

from infolettre.privacy.log_redaction import RedactPersonalData, redact
from infolettre.settings import base


def test_addresses_and_phone_numbers_are_masked():
    assert (
        redact("sent to ana.lopez+x@example.co.uk at +1 514 555-0123")
        == "sent to [email] at [phone]"
    )


def test_the_filter_masks_arguments_and_exceptions():
    record = logging.LogRecord(
        "x", logging.ERROR, __file__, 1, "user %s failed", ("ana@example.com",), None
    )
    try:
        raise ValueError("bad address bo@example.com")
    except ValueError as e:
        record.exc_info = (type(e), e, e.__traceback__)
    assert RedactPersonalData().filter(record) is True
    assert record.getMessage() == "user [email] failed"
    assert "bo@example.com" not in record.exc_text
    assert "bad address [email]" in record.exc_text


def test_deployed_log_handlers_use_the_filter():
    assert base.LOGGING["handlers"]["console"]["filters"] == ["redact"]


def test_identifiers_with_digits_are_left_alone():
    """Task ids and UUIDs stay readable; they are not personal data."""
    line = "task 0f6b2c1e-1234-4567-8901-123456789012 and id=a12345678d2e74c"
    assert redact(line) == line


def test_dates_are_left_alone_and_a_phone_beside_one_is_masked():
    """A task's date argument stays readable; a phone number on the same line does not."""
    assert (
        redact("send_daily_report(1, '2026-11-24') at 2026-11-25 07:00:00")
        == "send_daily_report(1, '2026-11-24') at 2026-11-25 07:00:00"
    )
    assert redact("on 2026-11-24 call 514-555-0123") == "on 2026-11-24 call [phone]"
