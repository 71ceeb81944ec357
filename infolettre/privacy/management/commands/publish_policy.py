from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from infolettre.errors import InfolettreError
from infolettre.privacy.audit import SYSTEM
from infolettre.privacy.policy_changes import do_publish_policy_version, do_resume_policy_notices


class Command(BaseCommand):
    help = (
        "Publish a new version of the privacy policy and email its notice to every client user "
        "and confirmed newsletter subscriber; --new-use names each use of confidential data it "
        "adds, which people may refuse. --resume VERSION sends what a stopped run left queued."
    )

    def create_parser(self, prog_name, subcommand, **kwargs):
        # Our --version names the policy version; it replaces Django's (the framework's version).
        return super().create_parser(prog_name, subcommand, conflict_handler="resolve", **kwargs)

    def add_arguments(self, parser):
        parser.add_argument("--version", dest="policy_version", help="The new version's name.")
        parser.add_argument("--body-fr", type=Path, help="File of the French text.")
        parser.add_argument("--body-en", type=Path, help="File of the English text.")
        parser.add_argument("--summary-fr", default="", help="What changes, in French.")
        parser.add_argument("--summary-en", default="", help="What changes, in English.")
        parser.add_argument(
            "--new-use",
            action="append",
            default=[],
            metavar="CODE",
            help="A purpose (code) this version adds as a use of confidential data; repeatable.",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="Check and count; publish and send nothing."
        )
        parser.add_argument(
            "--resume", metavar="VERSION", help="Send the notices still queued for a version."
        )
        parser.add_argument(
            "--by",
            metavar="EMAIL",
            help="The staff member who publishes, named in the audit trail (else the system).",
        )

    def handle(self, *args, **options):
        try:
            if options["resume"]:
                queued = do_resume_policy_notices(options["resume"])
                self.stdout.write(f"{queued} notices queued for version {options['resume']}.")
                return
            version = options["policy_version"]
            if not version or not options["body_fr"] or not options["body_en"]:
                raise CommandError("--version, --body-fr and --body-en are required.")
            by = _publisher(options["by"])
            policy, queued = do_publish_policy_version(
                version,
                options["summary_fr"],
                options["summary_en"],
                _read(options["body_fr"]),
                _read(options["body_en"]),
                new_uses=options["new_use"],
                dry_run=options["dry_run"],
                by=by,
            )
        except InfolettreError as e:
            details = "".join(f"\n  {d}" for d in e.details)
            raise CommandError(f"{e.message}{details}") from None
        if options["dry_run"]:
            self.stdout.write(f"Dry run: {queued} notices would be queued for version {version}.")
        else:
            self.stdout.write(f"Version {policy.version} published: {queued} notices queued.")


def _publisher(email):
    """The active staff account with this address, or SYSTEM when none is named."""
    from infolettre.accounts.models import User

    if not email:
        return SYSTEM
    user = User.objects.filter(email=email.strip().lower(), is_staff=True, is_active=True).first()
    if user is None:
        raise CommandError("--by names no active staff account.")
    return user


def _read(path):
    try:
        return path.read_text(encoding="utf-8")
    except OSError as e:
        raise CommandError(f"Cannot read {path}: {e.strerror}") from None
