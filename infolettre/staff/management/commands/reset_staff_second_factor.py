"""Reset a staff member's second factor when no other administrator can:
manage.py reset_staff_second_factor EMAIL --reason "...".
"""

from django.core.management.base import BaseCommand, CommandError

from infolettre.accounts.models import User
from infolettre.privacy.audit import SYSTEM
from infolettre.staff.actions import do_reset_second_factor
from infolettre.staff.errors import ResetReasonRequired


class Command(BaseCommand):
    help = (
        "Delete a staff member's authenticator app and recovery codes and sign them out of every "
        "session; they set up an app again at their next sign-in. Audited as done by the system, "
        "with the reason. For when no other administrator can reset it from the staff pages."
    )

    def add_arguments(self, parser):
        parser.add_argument("email")
        parser.add_argument("--reason", required=True, help="why the second factor is reset")

    def handle(self, *args, email, reason, **options):
        staff_user = User.objects.filter(email=email.strip().lower(), is_staff=True).first()
        if staff_user is None:
            raise CommandError("No staff account has this address.")
        try:
            do_reset_second_factor(SYSTEM, staff_user, reason)
        except ResetReasonRequired:
            raise CommandError("Give the reason of the reset with --reason.") from None
        self.stdout.write(
            self.style.SUCCESS(
                f"Second factor of staff account {staff_user.pk} reset; its sessions are ended. "
                "It sets up an authenticator app again at its next sign-in."
            )
        )
