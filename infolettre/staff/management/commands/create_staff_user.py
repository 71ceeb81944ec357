"""Create a member of the operator's staff: manage.py create_staff_user --email --name --role."""

import getpass

from django.conf import settings
from django.contrib.auth import password_validation
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from infolettre.accounts.models import StaffRole, User
from infolettre.staff.actions import do_create_staff_user


class Command(BaseCommand):
    help = (
        "Create a staff account with a role. It prints a one-time link to set the password "
        "(valid PASSWORD_RESET_TIMEOUT seconds), or asks for the password with --ask-password. "
        "The second factor is set up at the first sign-in, from an office network: an "
        "authenticator app (its key kept encrypted) and ten single-use recovery codes."
    )

    def add_arguments(self, parser):
        parser.add_argument("--email", required=True)
        parser.add_argument("--name", required=True)
        parser.add_argument("--role", required=True, choices=StaffRole.values)
        parser.add_argument(
            "--ask-password", action="store_true", help="type the password instead of a link"
        )

    def handle(self, *args, email, name, role, ask_password, **options):
        email = email.strip().lower()
        if User.objects.filter(email=email).exists():
            raise CommandError("An account already uses this address.")
        password = None
        if ask_password:
            password = getpass.getpass("Password: ")
            if password != getpass.getpass("Password again: "):
                raise CommandError("The two passwords differ.")
            try:
                password_validation.validate_password(password, User(email=email, name=name))
            except ValidationError as e:
                raise CommandError(" ".join(e.messages)) from None
        user = do_create_staff_user(email, name, role, password=password)
        self.stdout.write(self.style.SUCCESS(f"Staff account {user.pk} created ({role})."))
        if password is None:
            link = reverse(
                "accounts:password_reset_confirm",
                kwargs={
                    "uidb64": urlsafe_base64_encode(force_bytes(user.pk)),
                    "token": default_token_generator.make_token(user),
                },
            )
            self.stdout.write(f"Set the password (one time, expires) at {settings.SITE_URL}{link}")
        self.stdout.write(
            "Then sign in from an office network, set up the authenticator app, and keep the ten "
            "recovery codes shown then (they are shown once)."
        )
