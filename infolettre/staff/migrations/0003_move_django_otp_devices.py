"""Move the authenticators kept by django-otp's TOTP plugin into staff.StaffTOTPDevice.

The plugin kept each seed in clear in its own table (otp_totp_totpdevice). Each row is copied with
its id, counters and dates, its seed is encrypted in the same transaction, and the row is deleted
from the old table, so that no seed stays there in clear. The old table itself is left in place
(the plugin is no longer installed, so nothing writes to it). A database that never had the
plugin's table has nothing to move. Backwards, the rows go back, decrypted, when the table is there.
"""

from django.core.management.color import no_style
from django.db import migrations

from infolettre.privacy.encryption import decrypt_column, encrypt_column

OLD_TABLE = "otp_totp_totpdevice"
NEW_TABLE = "staff_stafftotpdevice"
# The seed's encryption context: the field's label, as staff.StaffTOTPDevice.key seals it.
CONTEXT = "staff.StaffTOTPDevice.key"
COLUMNS = (
    "id",
    "user_id",
    "name",
    "confirmed",
    "key",
    "step",
    "t0",
    "digits",
    "tolerance",
    "drift",
    "last_t",
    "throttling_failure_timestamp",
    "throttling_failure_count",
    "created_at",
    "last_used_at",
)


def _columns(connection, table):
    with connection.cursor() as cursor:
        present = {c.name for c in connection.introspection.get_table_description(cursor, table)}
    return [c for c in COLUMNS if c in present]


def _copy(connection, source, target, columns):
    quote = connection.ops.quote_name
    names = ", ".join(quote(c) for c in columns)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {quote(target)} ({names}) SELECT {names} FROM {quote(source)}"  # noqa: S608
        )
        cursor.execute(f"DELETE FROM {quote(source)}")  # noqa: S608


def _reset_sequence(connection, table, statements):
    # Rows came with their ids: the next id the database hands out must follow them (PostgreSQL).
    with connection.cursor() as cursor:
        for sql in statements:
            cursor.execute(sql)
        if not statements and connection.vendor == "postgresql":
            cursor.execute(
                "SELECT setval(pg_get_serial_sequence(%s, 'id'), "
                f"COALESCE((SELECT MAX(id) FROM {connection.ops.quote_name(table)}), 0) + 1, false)",  # noqa: S608
                [table],
            )


def move_devices(apps, schema_editor):
    connection = schema_editor.connection
    if OLD_TABLE not in connection.introspection.table_names():
        return
    device = apps.get_model("staff", "StaffTOTPDevice")
    _copy(connection, OLD_TABLE, NEW_TABLE, _columns(connection, OLD_TABLE))
    encrypt_column(connection, NEW_TABLE, "id", "key", CONTEXT)
    _reset_sequence(connection, NEW_TABLE, connection.ops.sequence_reset_sql(no_style(), [device]))


def move_devices_back(apps, schema_editor):
    connection = schema_editor.connection
    if OLD_TABLE not in connection.introspection.table_names():
        return
    decrypt_column(connection, NEW_TABLE, "id", "key", CONTEXT)
    _copy(connection, NEW_TABLE, OLD_TABLE, _columns(connection, OLD_TABLE))
    _reset_sequence(connection, OLD_TABLE, [])


class Migration(migrations.Migration):
    dependencies = [
        ("staff", "0002_second_factor_encrypted"),
    ]

    operations = [
        migrations.RunPython(move_devices, move_devices_back),
    ]
