from django.core.management.base import BaseCommand, CommandError

from infolettre.privacy.audit import SYSTEM, AuditAction, do_record_audit
from infolettre.privacy.encryption import (
    UnreadableValue,
    current_key_id,
    reencrypt,
    using_development_key,
)


class Command(BaseCommand):
    help = (
        "Re-encrypt every encrypted field under the current key (the first of "
        "FIELD_ENCRYPTION_KEYS), batch by batch; safe to run again."
    )

    def add_arguments(self, parser):
        parser.add_argument("--batch-size", type=int, default=500, help="Rows per transaction.")

    def handle(self, *args, batch_size=500, **options):
        if using_development_key():
            self.stderr.write(
                "FIELD_ENCRYPTION_KEYS is not set: writing under the development key, which "
                "protects nothing."
            )
        key = current_key_id()
        try:
            counts = reencrypt(batch_size=max(1, batch_size))
        except UnreadableValue as e:
            # The batches before it are done (and rewritten): the trail says a run stopped midway.
            _record_rotation(key, completed=False)
            # Once the key is listed again, a new run goes on.
            raise CommandError(str(e)) from e
        _record_rotation(key, completed=True, counts=counts)
        for label, fields in sorted(counts.items()):
            resealed = sum(done for done, _ in fields.values())
            current = sum(kept for _, kept in fields.values())
            detail = ", ".join(f"{name} {done}" for name, (done, _) in sorted(fields.items()))
            self.stdout.write(
                f"{label}: {resealed} re-encrypted ({detail}), {current} already under key {key}"
            )


def _record_rotation(key, *, completed, counts=None):
    """Append the run to the audit trail: the key's id (not the key), and counts per field."""
    details = {"credential": "field_encryption_keys", "key": key, "completed": completed}
    if counts is not None:
        details["fields"] = {
            f"{label}.{name}": {"reencrypted": done, "already_current": kept}
            for label, fields in sorted(counts.items())
            for name, (done, kept) in sorted(fields.items())
        }
    do_record_audit(SYSTEM, AuditAction.KEY_ROTATION, details=details)
