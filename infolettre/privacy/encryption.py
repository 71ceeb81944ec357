"""Encryption at rest of the fields the declaration marks confidential, and the keys that do it.

A value is sealed with AES-256-GCM under the current key and stored as text:

    enc:1:<key id>:<nonce and ciphertext, URL-safe base64>

"1" is the format's version; the key id (8 hex digits derived from the key) says which key
opens it, so a value written before a rotation still reads, and `reencrypt_fields` knows what is
already under the current key. The authenticated data is the field's label ("accounts.Organisation.
phone"): a value copied into another column does not open there.

Keys come from FIELD_ENCRYPTION_KEYS (comma-separated, URL-safe base64 of 32 random bytes): the
first one encrypts, every one decrypts. Unset, a development key derived from a fixed, public
phrase is used: it protects nothing and production refuses to start without the setting.
"""

import base64
import hashlib
import os
from dataclasses import dataclass
from functools import lru_cache

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.apps import apps
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction

from .declaration import declared_models

PREFIX = "enc:"
VERSION = "1"
NONCE_BYTES = 12
# Public on purpose: anyone can derive this key, so it only keeps development data readable.
DEVELOPMENT_PHRASE = b"infolettre development field key - public, never for production"
GENERATE = "python -c 'import base64, os; print(base64.urlsafe_b64encode(os.urandom(32)).decode())'"


class UnreadableValue(Exception):
    """A stored value that none of the configured keys opens (or that is not encrypted at all)."""


@dataclass(frozen=True)
class Key:
    id: str
    aead: AESGCM


def _key(raw):
    return Key(hashlib.sha256(b"infolettre field key id:" + raw).hexdigest()[:8], AESGCM(raw))


def _decode_key(text, position):
    try:
        raw = base64.urlsafe_b64decode(text.strip().encode("ascii") + b"==")
    except (ValueError, UnicodeEncodeError):
        raw = b""
    if len(raw) != 32:
        # The key itself is never quoted: an error message can end up in a log.
        raise ImproperlyConfigured(
            f"FIELD_ENCRYPTION_KEYS: key number {position} is not 32 bytes of URL-safe base64; "
            f"generate one with {GENERATE}"
        )
    return raw


@lru_cache(maxsize=8)
def _keyring(configured):
    if not configured:
        return (_key(hashlib.sha256(DEVELOPMENT_PHRASE).digest()),)
    keys = tuple(_key(_decode_key(text, i)) for i, text in enumerate(configured, start=1))
    if len({key.id for key in keys}) != len(keys):
        raise ImproperlyConfigured("FIELD_ENCRYPTION_KEYS names the same key twice.")
    return keys


def keyring():
    """The configured keys, the current (encrypting) one first."""
    configured = getattr(settings, "FIELD_ENCRYPTION_KEYS", ())
    if isinstance(configured, str):
        configured = configured.split(",")
    return _keyring(tuple(text.strip() for text in configured if text.strip()))


def current_key_id():
    return keyring()[0].id


def using_development_key():
    return not [t for t in getattr(settings, "FIELD_ENCRYPTION_KEYS", ()) if t.strip()]


def is_encrypted(stored):
    return isinstance(stored, str) and stored.startswith(PREFIX)


def key_id_of(stored):
    """The id of the key that sealed a stored value ("" when it is not an encrypted value)."""
    parts = stored.split(":", 3) if is_encrypted(stored) else ()
    return parts[2] if len(parts) == 4 else ""


def encrypt(value, context):
    """Seal `value` (text) under the current key, bound to `context` (the field's label)."""
    key = keyring()[0]
    nonce = os.urandom(NONCE_BYTES)
    sealed = key.aead.encrypt(nonce, value.encode(), context.encode())
    body = base64.urlsafe_b64encode(nonce + sealed).decode().rstrip("=")
    return f"{PREFIX}{VERSION}:{key.id}:{body}"


def decrypt(stored, context):
    """Open a stored value with whichever configured key sealed it."""
    parts = stored.split(":", 3) if is_encrypted(stored) else ()
    if len(parts) != 4 or parts[1] != VERSION:
        raise UnreadableValue(f"{context} holds a value that is not in the encrypted format.")
    key = next((k for k in keyring() if k.id == parts[2]), None)
    if key is None:
        raise UnreadableValue(
            f"{context} holds a value sealed by key {parts[2]}, which FIELD_ENCRYPTION_KEYS does "
            "not list: add that key back (after the current one) to read it."
        )
    try:
        blob = base64.urlsafe_b64decode(parts[3] + "=" * (-len(parts[3]) % 4))
        clear = key.aead.decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], context.encode())
    except (ValueError, InvalidTag) as e:
        raise UnreadableValue(f"{context} holds a value that key {key.id} does not open.") from e
    return clear.decode()


def reseal(stored, context):
    """The value under the current key, or None when it already is: clear text gets encrypted."""
    if not stored:
        return None
    if not is_encrypted(stored):
        return encrypt(stored, context)
    if key_id_of(stored) == current_key_id():
        return None
    return encrypt(decrypt(stored, context), context)


# Raw columns: data migrations and the re-encryption command work below the ORM, so that a value
# is read as stored (clear, or under an old key) and written back without a model's help.


def raw_batches(connection, table, pk, columns, batch_size=500):
    """Yield the rows (pk, *columns) of a table with a non-empty value, a batch at a time, by pk."""
    quote = connection.ops.quote_name
    names = ", ".join(quote(c) for c in columns)
    filled = " OR ".join(f"{quote(c)} <> ''" for c in columns)
    select = f"SELECT {quote(pk)}, {names} FROM {quote(table)} WHERE ({filled})"  # noqa: S608
    order = f" ORDER BY {quote(pk)} LIMIT {int(batch_size)}"
    sql, params = select + order, []
    while True:
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            rows = cursor.fetchall()
        if not rows:
            return
        yield rows
        sql, params = f"{select} AND {quote(pk)} > %s{order}", [rows[-1][0]]


def raw_update(connection, table, pk, columns, rows):
    """Write (pk, *values) rows back to their columns."""
    if not rows:
        return
    quote = connection.ops.quote_name
    assignments = ", ".join(f"{quote(c)} = %s" for c in columns)
    sql = f"UPDATE {quote(table)} SET {assignments} WHERE {quote(pk)} = %s"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.executemany(sql, [(*values, key) for key, *values in rows])


def raw_swap(connection, table, pk, column, swaps):
    """Write each (pk, old, new) where the column still holds `old`; a row changed meanwhile (a
    new value, sealed under the current key) is left as it is. Return how many were written."""
    if not swaps:
        return 0
    quote = connection.ops.quote_name
    sql = (
        f"UPDATE {quote(table)} SET {quote(column)} = %s "  # noqa: S608
        f"WHERE {quote(pk)} = %s AND {quote(column)} = %s"
    )
    written = 0
    with connection.cursor() as cursor:
        for key, old, new in swaps:
            cursor.execute(sql, [new, key, old])
            written += cursor.rowcount
    return written


def rewrite_column(connection, table, pk, column, rewrite, batch_size=500):
    """Apply `rewrite(stored) -> new stored value or None (leave it)`; return how many changed."""
    changed = 0
    for rows in raw_batches(connection, table, pk, [column], batch_size):
        swaps = [(key, old, new) for key, old in rows if (new := rewrite(old)) is not None]
        with transaction.atomic(using=connection.alias):
            changed += raw_swap(connection, table, pk, column, swaps)
    return changed


def encrypt_column(connection, table, pk, column, context):
    """Encrypt the clear values left in a column (data migrations); encrypted ones stay."""
    return rewrite_column(
        connection,
        table,
        pk,
        column,
        lambda stored: None if is_encrypted(stored) else encrypt(stored, context),
    )


def decrypt_column(connection, table, pk, column, context):
    """Put a column back in clear (a data migration run backwards)."""
    return rewrite_column(
        connection,
        table,
        pk,
        column,
        lambda stored: decrypt(stored, context) if is_encrypted(stored) else None,
    )


# The registry: what the declaration marks confidential, what the models encrypt, and the proof
# that they are the same fields.


def declared_confidential():
    """{(model label, field name): hashed} for every confidential field of the declaration,
    personal data and each app's CONFIDENTIAL_SECRETS (secrets that name no one) alike."""
    from importlib import import_module

    found = {}
    for entry in declared_models():
        for f in entry.fields:
            if f.confidential:
                found[(entry.model, f.name)] = f.hashed
    for app in apps.get_app_configs():
        try:
            module = import_module(f"{app.name}.personal_data")
        except ModuleNotFoundError as e:
            if e.name != f"{app.name}.personal_data":
                raise
            continue
        for label, names in getattr(module, "CONFIDENTIAL_SECRETS", {}).items():
            found.update({(label, name): False for name in names})
    return found


def encrypted_fields(models=None):
    """Every (model, field) whose column is encrypted."""
    from .fields import EncryptedField

    return [
        (model, f)
        for model in (models if models is not None else apps.get_models())
        for f in model._meta.concrete_fields
        if isinstance(f, EncryptedField)
    ]


def check_confidential_encrypted(models=None, declared=None):
    """List the mismatches between the confidential declaration and the encrypted fields, as
    (model label, problem) pairs."""
    from django.core.exceptions import FieldDoesNotExist

    from .fields import EncryptedField

    declared = declared_confidential() if declared is None else declared
    everything = models is None
    models = list(apps.get_models() if everything else models)
    by_label = {m._meta.label: m for m in models}
    problems = []
    for (label, name), hashed in sorted(declared.items()):
        model = by_label.get(label)
        if model is None:
            if everything:
                problems.append((label, f"{label}.{name} is declared confidential: no such model."))
            continue
        try:
            field = model._meta.get_field(name)
        except FieldDoesNotExist:
            problems.append((label, f"{label}.{name} is declared confidential: no such field."))
            continue
        encrypted = isinstance(field, EncryptedField)
        if hashed and encrypted:
            problems.append(
                (
                    label,
                    f"{label}.{name} is declared a one-way hash (hashed=True) but is encrypted: "
                    "a hash needs no key; remove hashed=True if the value must be read back.",
                )
            )
        elif not hashed and not encrypted:
            problems.append(
                (
                    label,
                    f"{label}.{name} is declared confidential but stored in clear: make it an "
                    "EncryptedCharField or EncryptedTextField (infolettre.privacy.fields) with a "
                    "migration that encrypts the existing values (encrypting_migration).",
                )
            )
    for model, field in encrypted_fields(models):
        label = model._meta.label
        if (label, field.name) not in declared:
            problems.append(
                (
                    label,
                    f"{label}.{field.name} is encrypted but not declared confidential: declare it "
                    "so in the app's personal_data.py (CONFIDENTIAL_SECRETS if it names no one).",
                )
            )
    return problems


def check_keys():
    """List what is wrong with FIELD_ENCRYPTION_KEYS (without quoting any key)."""
    try:
        keyring()
    except ImproperlyConfigured as e:
        return [str(e)]
    return []


def encrypting_migration(label, *names):
    """A data migration that encrypts these fields' clear values, and decrypts them backwards.

    Put it after the AlterField that makes them encrypted fields (the column is then text, wide
    enough for the sealed form); backwards it runs first, while the column is still wide.
    """
    from django.db.migrations import RunPython

    def run(apps, schema_editor, forward=True):
        model = apps.get_model(label)
        for name in names:
            field = model._meta.get_field(name)
            rewrite = encrypt_column if forward else decrypt_column
            rewrite(
                schema_editor.connection,
                model._meta.db_table,
                model._meta.pk.column,
                field.column,
                field.encryption_context,
            )

    def backwards(apps, schema_editor):
        run(apps, schema_editor, forward=False)

    return RunPython(run, backwards)


def reencrypt(batch_size=500):
    """Seal every encrypted field of every model under the current key, batch by batch.

    Values already under it are left alone, so running it twice changes nothing the second time;
    a clear value (left by an old writer) is encrypted. Return {model label: {field: (re-encrypted,
    already current)}}.
    """
    from django.db import connections, router

    counts = {}
    for model, field in encrypted_fields():
        if not model._meta.managed or model._meta.proxy:
            continue
        connection = connections[router.db_for_write(model)]
        table, pk, context = model._meta.db_table, model._meta.pk.column, field.encryption_context
        resealed = current = 0
        for rows in raw_batches(connection, table, pk, [field.column], batch_size):
            swaps = []
            for key, old in rows:
                new = reseal(old, context)
                if new is None:
                    current += 1
                else:
                    swaps.append((key, old, new))
            with transaction.atomic(using=connection.alias):
                resealed += raw_swap(connection, table, pk, field.column, swaps)
        counts.setdefault(model._meta.label, {})[field.name] = (resealed, current)
    return counts
