"""The audit trail: an append-only log of sensitive acts, chained by SHA-256 hashes.

Call `do_record_audit` right after the change it records, inside the same transaction: the entry
commits or rolls back with the act. Entries name people by account id and role only; `details`
holds ids, counts and field names, never a personal value.

Each entry's hash covers a canonical serialisation of its content plus the previous entry's hash
(the first chains to GENESIS_HASH), so changing, removing or reordering an entry breaks the chain;
`verify_audit_chain` finds the first break. Appends are serialised (an advisory lock on
PostgreSQL, the database write lock on SQLite) so concurrent writers never fork the chain.
"""

import datetime
import hashlib
import json
from dataclasses import dataclass

from django.db import connection, transaction
from django.db.models import Model
from django.utils import timezone

from .models import AuditAction, AuditEntry

GENESIS_HASH = "0" * 64
# The actor of an act by the person the data is about (downloading their own access file...).
SUBJECT = "subject"
# The actor of an act by the platform itself (retention, scheduled tasks, commands).
SYSTEM = "system"
# Key of the PostgreSQL advisory lock that serialises appends ("audit" in ASCII).
_ADVISORY_LOCK_KEY = 0x6175646974

__all__ = [
    "GENESIS_HASH",
    "SUBJECT",
    "SYSTEM",
    "AuditAction",
    "ChainReport",
    "do_record_audit",
    "entry_hash",
    "verify_chain",
]


def _actor_fields(actor):
    """Return (actor_id, actor_role) for a user, SUBJECT, SYSTEM or None (the system)."""
    if actor is None or actor == SYSTEM:
        return None, SYSTEM
    if actor == SUBJECT:
        return None, SUBJECT
    if isinstance(actor, str):
        raise ValueError(f"Unknown audit actor {actor!r}: pass a user, SUBJECT or SYSTEM.")
    if not getattr(actor, "is_authenticated", False):
        return None, SUBJECT
    if actor.is_staff:
        return actor.pk, f"staff:{actor.staff_role or 'none'}"
    return actor.pk, f"client:{actor.role}"


def _target_label(target):
    if isinstance(target, Model):
        return f"{target._meta.label}:{target.pk}"
    return str(target or "")


def _tenant_id(tenant):
    if tenant is None or tenant == "":
        return None
    return tenant.pk if isinstance(tenant, Model) else int(tenant)


def _canonical_time(value):
    return value.astimezone(datetime.UTC).isoformat(timespec="microseconds")


def entry_hash(entry, previous_hash):
    """Return the SHA-256 of an entry's canonical serialisation chained to previous_hash."""
    content = {
        "sequence": entry.sequence,
        "occurred_at": _canonical_time(entry.occurred_at),
        "actor_id": entry.actor_id,
        "actor_role": entry.actor_role,
        "action": entry.action,
        "target": entry.target,
        "tenant_id": entry.tenant_id,
        "reason": entry.reason,
        "details": entry.details,
        "previous_hash": previous_hash,
    }
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _lock_chain():
    """Hold the chain's append lock until the current transaction ends."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_ADVISORY_LOCK_KEY])
    elif connection.vendor == "sqlite":
        # A write statement takes SQLite's database write lock (held to commit) even when it
        # changes no row, so the last entry read next cannot change under us.
        with connection.cursor() as cursor:
            cursor.execute("UPDATE privacy_auditentry SET sequence = sequence WHERE 0 = 1")
    else:  # pragma: no cover - other databases: lock the last row.
        AuditEntry.objects.select_for_update().order_by("-sequence").first()


def do_record_audit(actor, action, *, target="", tenant=None, reason="", details=None):
    """Append one entry to the audit trail and return it.

    actor: the user who acted, SUBJECT (the person the data is about) or None/SYSTEM.
    action: an AuditAction. target: a model instance or "<label>:<pk>". tenant: an organisation
    or its id. details: ids, counts and field names only (JSON).
    """
    action = AuditAction(action)
    actor_id, actor_role = _actor_fields(actor)
    # Stored as JSON reads it back, so the hash computed now matches the one verified later.
    details = json.loads(json.dumps(details or {}, sort_keys=True, default=str))
    with transaction.atomic():
        _lock_chain()
        last = AuditEntry.objects.order_by("-sequence").only("sequence", "entry_hash").first()
        entry = AuditEntry(
            sequence=(last.sequence + 1) if last else 1,
            occurred_at=timezone.now(),
            actor_id=actor_id,
            actor_role=actor_role,
            action=action.value,
            target=_target_label(target),
            tenant_id=_tenant_id(tenant),
            reason=reason or "",
            details=details,
            previous_hash=last.entry_hash if last else GENESIS_HASH,
        )
        entry.entry_hash = entry_hash(entry, entry.previous_hash)
        entry.save(force_insert=True)
    return entry


@dataclass(frozen=True)
class ChainReport:
    """The outcome of a verification: intact, or the first altered entry and what broke."""

    count: int
    broken_sequence: int | None = None
    problem: str = ""

    @property
    def intact(self):
        return self.broken_sequence is None


def verify_chain():
    """Recompute every hash in sequence order; report the first altered entry, if any."""
    expected_sequence = 1
    previous = None  # (sequence, entry_hash) of the last entry checked
    count = 0
    known_hashes = None
    for entry in AuditEntry.objects.order_by("sequence").iterator(chunk_size=2000):
        count += 1
        if entry.sequence != expected_sequence:
            missing = (
                f"{expected_sequence}"
                if entry.sequence == expected_sequence + 1
                else f"{expected_sequence} to {entry.sequence - 1}"
            )
            return ChainReport(
                count,
                expected_sequence,
                f"entry removed: sequence {missing} missing (gap before entry {entry.sequence})",
            )
        expected_previous = previous[1] if previous else GENESIS_HASH
        if entry.previous_hash != expected_previous:
            if known_hashes is None:
                known_hashes = dict(AuditEntry.objects.values_list("entry_hash", "sequence"))
            if entry.previous_hash in known_hashes:
                return ChainReport(
                    count,
                    entry.sequence,
                    f"reordered: entry {entry.sequence} chains to entry "
                    f"{known_hashes[entry.previous_hash]}, not to the entry before it",
                )
            if previous is None:
                return ChainReport(
                    count, entry.sequence, "content changed: previous hash of the first entry"
                )
            return ChainReport(
                count,
                previous[0],
                f"content changed: entry {previous[0]}'s hash was rewritten "
                f"(entry {entry.sequence} chains to another hash)",
            )
        if entry_hash(entry, entry.previous_hash) != entry.entry_hash:
            return ChainReport(
                count, entry.sequence, f"content changed: entry {entry.sequence} hash mismatch"
            )
        previous = (entry.sequence, entry.entry_hash)
        expected_sequence += 1
    return ChainReport(count)
