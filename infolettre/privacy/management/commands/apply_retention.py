from django.core.management.base import BaseCommand

from infolettre.privacy.retention import apply_retention, unhandled_models


class Command(BaseCommand):
    help = "Destroy or anonymise what has outlived its retention period; --dry-run only tells."

    def add_arguments(self, parser):
        parser.add_argument(
            "--dry-run", action="store_true", help="Print what would go; change nothing."
        )

    def handle(self, *args, dry_run=False, **options):
        counts = apply_retention(dry_run=dry_run)
        verb = ("would delete", "would anonymise") if dry_run else ("deleted", "anonymised")
        if not counts:
            self.stdout.write("Nothing has outlived its retention period.")
        for label, tally in sorted(counts.items()):
            self.stdout.write(
                f"{label}: {verb[0]} {tally['deleted']}, {verb[1]} {tally['anonymised']} "
                f"({', '.join(tally['categories'])})"
            )
        for label, counted_from in unhandled_models():
            self.stdout.write(
                f"{label}: no rule dates '{counted_from}'; its app must give a retention rule."
            )
