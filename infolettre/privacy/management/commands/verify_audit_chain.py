from django.core.management.base import BaseCommand, CommandError

from infolettre.privacy.audit import verify_chain


class Command(BaseCommand):
    help = "Recompute every audit-trail hash in order; name the first altered entry if any."

    def handle(self, *args, **options):
        report = verify_chain()
        if not report.intact:
            raise CommandError(
                f"chain broken at entry {report.broken_sequence}: {report.problem} "
                f"({report.count} entries read)"
            )
        self.stdout.write(f"chain intact: {report.count} entries")
