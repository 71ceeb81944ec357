import signal
import threading

from django.core.management.base import BaseCommand

from infolettre.webhooks.tasks import retry_due_webhooks


class Command(BaseCommand):
    help = (
        "Queue the webhook deliveries whose retry time has come (once, or every --every seconds "
        "until SIGTERM or SIGINT). Needed when the task backend cannot defer tasks; with the "
        "database backend it only catches deliveries a crashed worker left behind."
    )

    def add_arguments(self, parser):
        parser.add_argument("--every", type=float, default=0, help="repeat every N seconds")

    def handle(self, *args, every, **options):
        stopping = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stopping.set())
        signal.signal(signal.SIGINT, lambda *_: stopping.set())
        while True:
            retry_due_webhooks.enqueue()
            if every <= 0 or stopping.wait(every):
                return
