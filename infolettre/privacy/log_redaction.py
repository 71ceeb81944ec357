"""A last line of defence: addresses and phone numbers that reach a log line are masked."""

import logging
import re

EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# Whole numbers only: a run of digits inside an identifier (a task id, a UUID) is not a phone, nor
# is an ISO date (a task's argument, a report's day).
PHONE = re.compile(r"(?<![\w-])(?!\d{4}-\d\d-\d\d(?!\d))\+?\d[\d .()-]{7,}\d(?![\w-])")


def redact(text):
    return PHONE.sub("[phone]", EMAIL.sub("[email]", text))


class RedactPersonalData(logging.Filter):
    def filter(self, record):
        message = record.getMessage()
        redacted = redact(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        if record.exc_info and not record.exc_text:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        return True
