"""The bounce server: an SMTP endpoint for BOUNCE_DOMAIN that reads what comes back.

It accepts mail for any address of BOUNCE_DOMAIN (the VERP return paths, the mailto unsubscribe
addresses, a feedback loop's address) and refuses every other domain, so it never relays. Each
message is handed to `bounces.process_incoming` before the server answers: a message is accepted
only once it has been acted upon, and a failure answers 451 so that the sender tries again.

Database work runs on one worker thread, one message at a time (the ORM is not for the event loop,
and soft bounces of one address are counted without races). The logs hold counts only.
"""

import asyncio
import logging
import socket
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

from aiosmtpd.controller import Controller
from django.conf import settings
from django.db import connections

from . import bounces

logger = logging.getLogger(__name__)

# Reports quote the original message; ours are far smaller than this.
MAX_MESSAGE_BYTES = 10 * 1024 * 1024


def process_message(recipients, content):
    """Act on one message on the worker thread, then let its database connection go."""
    try:
        return bounces.process_incoming(recipients, content)
    finally:
        # A long-running server must not keep a connection the database may have dropped.
        connections.close_all()


class BounceHandler:
    def __init__(self, process=None):
        self.process = process or process_message
        self.outcomes = Counter()
        self.received = 0
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="bounces")

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if bounces.parse_address(address) is None:
            return "550 5.7.1 Relaying denied: this server accepts mail for its own domain only"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        content = envelope.original_content or envelope.content
        if isinstance(content, str):
            content = content.encode("utf-8", "surrogateescape")
        loop = asyncio.get_running_loop()
        try:
            outcomes = await loop.run_in_executor(
                self._executor, self.process, list(envelope.rcpt_tos), content
            )
        except Exception as error:  # whatever failed, the sender keeps the message and retries
            logger.error("Bounce processing failed (%s); answered 451", error.__class__.__name__)
            return "451 4.3.0 Temporary failure, try again later"
        self.received += 1
        self.outcomes.update(outcomes)
        logger.info("Message %d processed: %s", self.received, _counts(outcomes) or "nothing")
        return "250 2.0.0 Message accepted"

    def close(self):
        self._executor.shutdown(wait=True)


def _counts(outcomes):
    return ", ".join(f"{name} {n}" for name, n in sorted(Counter(outcomes).items()))


class BounceServer:
    """The bounce server on `host`:`port`, run in a thread."""

    def __init__(self, host=None, port=None, process=None):
        self.handler = BounceHandler(process)
        self.controller = Controller(
            self.handler,
            hostname=host or getattr(settings, "BOUNCE_SERVER_HOST", "127.0.0.1"),
            port=port or getattr(settings, "BOUNCE_SERVER_PORT", 2526),
            server_hostname=settings.BOUNCE_DOMAIN,
            data_size_limit=MAX_MESSAGE_BYTES,
            enable_SMTPUTF8=True,
            ready_timeout=5.0,
        )

    @property
    def address(self):
        return self.controller.hostname, self.controller.port

    def start(self):
        # aiosmtpd names senders and recipients at INFO: personal data never goes into the logs.
        logging.getLogger("mail.log").setLevel(logging.WARNING)
        # A taken port fails here at once, not after the controller's start-up timeout.
        with socket.create_server(self.address):
            pass
        self.controller.start()
        return self

    def stop(self):
        self.controller.stop()
        self.handler.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()
