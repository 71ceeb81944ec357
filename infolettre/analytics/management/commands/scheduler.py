import logging
import signal

from django.core.management.base import BaseCommand

from infolettre.analytics.scheduler import TICK_SECONDS, Scheduler

logger = logging.getLogger(__name__)


class Command(BaseCommand):
    help = (
        "Enqueue the periodic tasks (settings.PERIODIC_TASKS) once a day when their local time "
        "comes, or every N seconds ('every Ns'); stop cleanly on SIGTERM or SIGINT."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--tick", type=float, default=TICK_SECONDS, help="seconds between checks"
        )

    def handle(self, *args, tick, **options):
        scheduler = Scheduler()
        signal.signal(signal.SIGTERM, scheduler.stop)
        signal.signal(signal.SIGINT, scheduler.stop)
        logger.info("Scheduler started with %s periodic tasks", len(scheduler.periodic_tasks))
        scheduler.run(tick_seconds=tick)
        logger.info("Scheduler stopped")
