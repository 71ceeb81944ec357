"""Run the local mail catcher until SIGINT or SIGTERM."""

import logging
import signal
import threading

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from infolettre.messaging.catcher import MailCatcher

logger = logging.getLogger("infolettre.messaging.catcher")

SMTP_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def mail_comes_here(host, port):
    """Whether the default mailer (EMAIL_URL) sends to this catcher."""
    mailer = settings.MAILERS.get("default", {})
    options = mailer.get("OPTIONS", {})
    target = options.get("host")
    return (
        mailer.get("BACKEND") == SMTP_BACKEND
        and options.get("port") == port
        and (target == host or {target, host} <= LOOPBACK)
    )


class Command(BaseCommand):
    help = "Catch outgoing mail on a local SMTP port and keep each message as a .eml file in OUTBOX_DIR."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=1025)

    def handle(self, *args, host, port, **options):
        stop = threading.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: stop.set())

        directory = settings.OUTBOX_DIR
        catches_mail = mail_comes_here(host, port)
        catcher = MailCatcher(directory, host, port)
        try:
            catcher.start()
        except OSError as e:
            if catches_mail:
                raise CommandError(f"Cannot listen on {host}:{port}: {e.strerror or e}") from None
            # Mail goes elsewhere: a busy port must not stop the processes started beside this one.
            catcher = None
            logger.warning(
                "Port %s:%s is busy and EMAIL_URL sends elsewhere: the catcher idles.", host, port
            )
        else:
            self.stdout.write(f"Catching mail on {host}:{port} into {directory}")
            if not catches_mail:
                self.stdout.write("EMAIL_URL sends elsewhere: nothing will arrive here.")
            self.stdout.flush()
        try:
            while not stop.wait(1):
                pass
        finally:
            if catcher is not None:
                catcher.stop()
                self.stdout.write(f"Stopped after {catcher.handler.received} message(s).")
