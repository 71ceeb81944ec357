"""Write and send one message of the operator: a newsletter, a special offer or a service notice."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from infolettre.engagement import actions
from infolettre.engagement.models import OperatorMessageKind
from infolettre.errors import InfolettreError


class Command(BaseCommand):
    help = (
        "Send a message of the operator to its clients and users. A service notice reaches every "
        "client user and cannot contain promotion; a newsletter or special offer reaches only "
        "those who consented to it, with a one-click unsubscribe. Prints the recipient count, or "
        "the code of the refusal."
    )

    def add_arguments(self, parser):
        parser.add_argument("--kind", required=True, choices=OperatorMessageKind.values)
        parser.add_argument("--subject", required=True)
        parser.add_argument("--html-file", required=True, type=Path)
        parser.add_argument(
            "--text-file", type=Path, help="The plain-text body; derived from the HTML if absent."
        )
        parser.add_argument(
            "--contains-promotion",
            action="store_true",
            help="The message promotes a product, service or offer (refused for a service notice).",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="Print the recipient count; send nothing."
        )

    def handle(self, *args, kind, subject, html_file, text_file, contains_promotion, dry_run, **_):
        try:
            html = html_file.read_text(encoding="utf-8")
            text = text_file.read_text(encoding="utf-8") if text_file else ""
        except OSError as e:
            raise CommandError(f"Cannot read the message: {e}") from None
        try:
            if dry_run:
                actions.check_operator_message(kind, contains_promotion)
                count = actions.count_recipients(kind)
            else:
                # A refusal writes nothing: the message and its deliveries share one transaction.
                with transaction.atomic():
                    message = actions.do_create_operator_message(
                        kind=kind,
                        subject=subject,
                        html_body=html,
                        text_body=text,
                        contains_promotion=contains_promotion,
                    )
                    count = actions.do_send_operator_message(message)
        except InfolettreError as e:
            raise CommandError(e.code) from None
        self.stdout.write(str(count))
