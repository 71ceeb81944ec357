"""Authenticators set up under django-otp's TOTP plugin move to our table, their seed encrypted."""

from importlib import import_module
from types import SimpleNamespace

import pytest
from django.apps import apps
from django.db import connection
from django.test import Client

from infolettre.privacy.models import AuditAction, AuditEntry
from infolettre.staff.models import StaffTOTPDevice
from infolettre.staff.testing import STAFF_PASSWORD, current_code

migration = import_module("infolettre.staff.migrations.0003_move_django_otp_devices")
SEED = "3132333435363738393031323334353637383930"  # RFC 6238's test seed, in hex
TIMESTAMP = "timestamp with time zone" if connection.vendor == "postgresql" else "datetime"


@pytest.fixture
def old_table(db):
    """django-otp's TOTP table as its plugin left it (the plugin is no longer installed)."""
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TABLE {migration.OLD_TABLE} (id integer PRIMARY KEY, user_id bigint NOT NULL, "
            f"name varchar(64) NOT NULL, confirmed boolean NOT NULL, {quote('key')} varchar(80) "
            "NOT NULL, step smallint NOT NULL, t0 bigint NOT NULL, digits smallint NOT NULL, "
            "tolerance smallint NOT NULL, drift smallint NOT NULL, last_t bigint NOT NULL, "
            f"throttling_failure_timestamp {TIMESTAMP} NULL, throttling_failure_count integer "
            f"NOT NULL, created_at {TIMESTAMP} NULL, last_used_at {TIMESTAMP} NULL)"
        )
    yield migration.OLD_TABLE
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE {migration.OLD_TABLE}")


def _old_rows():
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT id, {connection.ops.quote_name('key')} FROM {migration.OLD_TABLE}")  # noqa: S608
        return cursor.fetchall()


def test_devices_move_encrypted_and_still_sign_in(old_table, staff):
    support = staff["support"]
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {old_table} VALUES (%s, %s, 'authenticator', %s, %s, 30, 0, 6, 1, 0, -1, "  # noqa: S608
            "NULL, 0, NULL, NULL)",
            [41, support.pk, True, SEED],
        )
    editor = SimpleNamespace(connection=connection)

    migration.move_devices(apps, editor)

    device = StaffTOTPDevice.objects.get()
    with connection.cursor() as cursor:
        cursor.execute("SELECT key FROM staff_stafftotpdevice")
        (stored,) = cursor.fetchone()
    assert (device.pk, device.user_id, device.confirmed, device.key) == (41, support.pk, True, SEED)
    assert stored.startswith("enc:1:") and SEED not in stored
    assert _old_rows() == []  # no seed left behind in clear
    assert StaffTOTPDevice.objects.create(user=support, name="next").pk > 41

    client = Client()
    client.post("/connexion/", {"email": support.email, "password": STAFF_PASSWORD})
    response = client.post("/equipe/verification/", {"code": current_code(device)})
    assert (response.status_code, response.url) == (302, "/equipe/tableau-de-bord/")
    assert AuditEntry.objects.get().action == AuditAction.STAFF_SIGN_IN

    StaffTOTPDevice.objects.exclude(pk=41).delete()
    migration.move_devices_back(apps, editor)
    assert _old_rows() == [(41, SEED)]
    assert StaffTOTPDevice.objects.count() == 0


def test_without_the_old_table_there_is_nothing_to_move(db):
    assert migration.OLD_TABLE not in connection.introspection.table_names()
    migration.move_devices(apps, SimpleNamespace(connection=connection))
    assert StaffTOTPDevice.objects.count() == 0
