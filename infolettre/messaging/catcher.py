"""The local mail catcher: an SMTP server that keeps each message as a .eml file instead of sending it.

Messages hold personal data, so the catcher logs a count and nothing else; aiosmtpd's own logger,
which names senders and recipients, is kept quiet.
"""

import itertools
import logging
import os
import socket
from datetime import UTC, datetime
from email.parser import BytesHeaderParser, BytesParser
from email.policy import default as default_policy
from pathlib import Path

from aiosmtpd.controller import Controller

logger = logging.getLogger(__name__)

SUFFIX = ".eml"


class OutboxHandler:
    """Write each message received into `directory`, named so that names sort by arrival."""

    def __init__(self, directory):
        self.directory = Path(directory)
        self.received = 0
        self._sequence = itertools.count(1)

    def next_name(self):
        n = next(self._sequence)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        return f"{stamp}-{os.getpid()}-{n:06d}{SUFFIX}"

    async def handle_DATA(self, server, session, envelope):
        self.directory.mkdir(parents=True, exist_ok=True)
        name = self.next_name()
        # Written under a temporary name first: the outbox never lists half a message.
        partial = self.directory / f".{name}.part"
        partial.write_bytes(envelope.original_content or envelope.content)
        partial.replace(self.directory / name)
        self.received += 1
        logger.info("Caught message %d", self.received)
        return "250 Message accepted for delivery"


class MailCatcher:
    """An SMTP server on `host`:`port`, run in a thread, writing into `directory`."""

    def __init__(self, directory, host="127.0.0.1", port=1025):
        self.handler = OutboxHandler(directory)
        self.controller = Controller(
            self.handler, hostname=host, port=port, enable_SMTPUTF8=True, ready_timeout=5.0
        )

    def start(self):
        # aiosmtpd names senders and recipients at INFO: personal data never goes into the logs.
        logging.getLogger("mail.log").setLevel(logging.WARNING)
        self.handler.directory.mkdir(parents=True, exist_ok=True)
        # A taken port fails here at once, not after the controller's start-up timeout.
        with socket.create_server((self.controller.hostname, self.controller.port)):
            pass
        self.controller.start()
        return self

    def stop(self):
        self.controller.stop()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()


# Reading the outbox.


def message_names(directory):
    """The names of the caught messages, newest first; the only names the outbox will open."""
    directory = Path(directory)
    if not directory.is_dir():
        return []
    return sorted(
        (p.name for p in directory.iterdir() if p.name.endswith(SUFFIX) and p.is_file()),
        reverse=True,
    )


def read_headers(path):
    with open(path, "rb") as f:
        return BytesHeaderParser(policy=default_policy).parse(f)


def read_message(path):
    with open(path, "rb") as f:
        return BytesParser(policy=default_policy).parse(f)
