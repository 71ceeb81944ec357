"""Run the bounce server until SIGINT or SIGTERM."""

import signal
import threading

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from infolettre.campaigns.bounce_server import BounceServer


class Command(BaseCommand):
    help = (
        "Receive bounces, complaints and mailto unsubscribes for BOUNCE_DOMAIN on an SMTP port "
        "and act on them."
    )

    def add_arguments(self, parser):
        parser.add_argument("--host", default=None, help="default: BOUNCE_SERVER_HOST or 127.0.0.1")
        parser.add_argument(
            "--port", type=int, default=None, help="default: BOUNCE_SERVER_PORT or 2526"
        )

    def handle(self, *args, host, port, **options):
        stop = threading.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: stop.set())
        server = BounceServer(host, port)
        try:
            server.start()
        except OSError as e:
            host, port = server.address
            raise CommandError(f"Cannot listen on {host}:{port}: {e.strerror or e}") from None
        host, port = server.address
        self.stdout.write(f"Receiving mail for {settings.BOUNCE_DOMAIN} on {host}:{port}")
        self.stdout.flush()
        try:
            while not stop.wait(1):
                pass
        finally:
            server.stop()
            counts = ", ".join(f"{k} {v}" for k, v in sorted(server.handler.outcomes.items()))
            self.stdout.write(
                f"Stopped after {server.handler.received} message(s){': ' + counts if counts else ''}."
            )
