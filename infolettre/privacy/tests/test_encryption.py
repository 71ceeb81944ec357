"""Encryption at rest: every confidential field is sealed in the database, read back in clear,
found by its keyed hash, and moved to a new key by one command."""

import base64
import importlib
import os
import subprocess
import sys
from io import StringIO
from types import SimpleNamespace

import pytest
from django.apps import apps
from django.core.checks import registry
from django.core.exceptions import FieldError, ImproperlyConfigured
from django.core.management import CommandError, call_command
from django.db import connection

from infolettre.accounts.models import Organisation
from infolettre.accounts.tenancy import tenant_scope
from infolettre.audience.actions import do_create_contact, do_create_list, do_update_contact
from infolettre.audience.importing import run_import
from infolettre.audience.models import Contact
from infolettre.audience.queries import contacts_with_phone
from infolettre.audience.segments import InvalidSegment, check_definition
from infolettre.audience.tests.test_import_run import start
from infolettre.privacy import checks as privacy_checks
from infolettre.privacy import encryption
from infolettre.privacy.declaration import personal_field
from infolettre.privacy.fields import EncryptedField
from infolettre.privacy.pseudonymise import keyed_hash
from infolettre.privacy.tests.database_search import database_values, mentions
from infolettre.staff import actions as staff_actions
from infolettre.staff.models import StaffTOTPDevice
from infolettre.staff.testing import current_code, make_staff
from infolettre.webhooks.actions import do_create_endpoint
from infolettre.webhooks.models import WebhookEndpoint

KEY_A = base64.urlsafe_b64encode(b"A" * 32).decode()
KEY_B = base64.urlsafe_b64encode(b"B" * 32).decode()
COMPANY_PHONE = "+15145550171"
COMPANY_FAX = "+15145550172"
CONTACT_PHONE = "+15145550173"
CONTEXT = "audience.Contact.phone"


def raw(table, column, pk):
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {quote(column)} FROM {quote(table)} WHERE id = %s",  # noqa: S608
            [pk],
        )
        return cursor.fetchone()[0]


def set_raw(table, column, pk, value):
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {quote(table)} SET {quote(column)} = %s WHERE id = %s",  # noqa: S608
            [value, pk],
        )


# The sealed format ---------------------------------------------------------------------------


def test_a_value_is_sealed_with_version_and_key_id_and_opens_again(settings):
    """The stored form is enc:1:<key id>:<data>; each sealing differs; it opens to the value."""
    settings.FIELD_ENCRYPTION_KEYS = [KEY_A]
    first = encryption.encrypt(CONTACT_PHONE, CONTEXT)
    second = encryption.encrypt(CONTACT_PHONE, CONTEXT)
    key_id = encryption.current_key_id()
    assert first.startswith(f"enc:1:{key_id}:")
    assert len(key_id) == 8
    assert first != second
    assert CONTACT_PHONE not in first
    assert encryption.decrypt(first, CONTEXT) == encryption.decrypt(second, CONTEXT)
    assert encryption.decrypt(first, CONTEXT) == CONTACT_PHONE


def test_a_value_copied_into_another_column_or_altered_does_not_open(settings):
    """The field's label is authenticated: a secret pasted into a phone column is refused, as is
    a changed byte, a missing key or a value that is not sealed."""
    settings.FIELD_ENCRYPTION_KEYS = [KEY_A]
    sealed = encryption.encrypt("whsec_x", "webhooks.WebhookEndpoint.secret")
    with pytest.raises(encryption.UnreadableValue):
        encryption.decrypt(sealed, CONTEXT)
    body = sealed.rsplit(":", 1)[1]
    altered = sealed[: -len(body)] + ("A" if body[0] != "A" else "B") + body[1:]
    with pytest.raises(encryption.UnreadableValue):
        encryption.decrypt(altered, "webhooks.WebhookEndpoint.secret")
    with pytest.raises(encryption.UnreadableValue):
        encryption.decrypt(CONTACT_PHONE, CONTEXT)
    settings.FIELD_ENCRYPTION_KEYS = [KEY_B]
    with pytest.raises(encryption.UnreadableValue, match="not list"):
        encryption.decrypt(sealed, "webhooks.WebhookEndpoint.secret")


def test_the_first_key_writes_and_every_key_reads(settings):
    """With "B,A", new values are sealed under B and values sealed under A still open."""
    settings.FIELD_ENCRYPTION_KEYS = [KEY_A]
    under_a = encryption.encrypt(CONTACT_PHONE, CONTEXT)
    settings.FIELD_ENCRYPTION_KEYS = [KEY_B, KEY_A]
    under_b = encryption.encrypt(CONTACT_PHONE, CONTEXT)
    assert encryption.key_id_of(under_b) != encryption.key_id_of(under_a)
    assert encryption.key_id_of(under_b) == encryption.current_key_id()
    assert encryption.decrypt(under_a, CONTEXT) == CONTACT_PHONE
    assert encryption.decrypt(under_b, CONTEXT) == CONTACT_PHONE


def test_a_malformed_or_repeated_key_is_refused_without_being_quoted(settings):
    """A key that is not 32 bytes of base64 stops the start (system check privacy.E003), and the
    message names its position, never the key."""
    settings.FIELD_ENCRYPTION_KEYS = [KEY_A, "not-a-key-at-all"]
    with pytest.raises(ImproperlyConfigured) as raised:
        encryption.keyring()
    assert "key number 2" in str(raised.value)
    assert "not-a-key-at-all" not in str(raised.value)
    errors = privacy_checks.confidential_fields_encrypted(None)
    assert [e.id for e in errors] == ["privacy.E003"]
    settings.FIELD_ENCRYPTION_KEYS = [KEY_A, KEY_A]
    assert encryption.check_keys() == ["FIELD_ENCRYPTION_KEYS names the same key twice."]


def test_without_keys_development_uses_a_public_key_and_production_refuses_to_start(tmp_path):
    """Unset, the development key is used; the production settings refuse to load without keys."""
    assert encryption.using_development_key() is True
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("FIELD_ENCRYPTION_KEYS", "DJANGO_SETTINGS_MODULE")
    }
    env["SECRET_KEY"] = "s" * 50
    code = "import infolettre.settings.prod"
    refused = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False
    )
    assert refused.returncode == 1
    assert "Set FIELD_ENCRYPTION_KEYS in the environment" in refused.stderr
    env["FIELD_ENCRYPTION_KEYS"] = f"{KEY_B},{KEY_A}"
    started = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False
    )
    assert "FIELD_ENCRYPTION_KEYS" not in started.stderr


def test_a_process_with_a_malformed_key_stops_as_it_starts():
    """Django's start (every process, the web server included) fails on a malformed key."""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "infolettre.settings.test"}
    env["FIELD_ENCRYPTION_KEYS"] = f"{KEY_A},tooshort"
    code = "import django; django.setup()"
    stopped = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False
    )
    assert stopped.returncode == 1
    assert "FIELD_ENCRYPTION_KEYS: key number 2 is not 32 bytes" in stopped.stderr
    assert "tooshort" not in stopped.stderr


# The fields ----------------------------------------------------------------------------------


def test_organisation_phone_and_fax_are_sealed_in_the_table_and_clear_in_python(
    make_client_user, settings
):
    """The ORM writes the sealed form and reads the clear one; an empty fax stays empty."""
    settings.FIELD_ENCRYPTION_KEYS = [KEY_A]
    organisation = make_client_user(phone=COMPANY_PHONE, fax="").tenant
    stored = raw("accounts_organisation", "phone", organisation.pk)
    assert stored.startswith(f"enc:1:{encryption.current_key_id()}:")
    assert raw("accounts_organisation", "fax", organisation.pk) == ""
    fresh = Organisation.objects.get(pk=organisation.pk)
    assert (fresh.phone, fresh.fax) == (COMPANY_PHONE, "")
    assert list(Organisation.objects.filter(pk=organisation.pk).values_list("phone", "fax")) == [
        (COMPANY_PHONE, "")
    ]


def test_the_database_cannot_be_asked_to_compare_an_encrypted_value(owner):
    """Equality or search on an encrypted column is refused (it would silently find nothing);
    testing that it is empty still works."""
    for lookup in ({"phone": COMPANY_PHONE}, {"phone__icontains": "514"}, {"fax__startswith": "+"}):
        with pytest.raises(FieldError, match="is encrypted"):
            list(Organisation.objects.filter(**lookup))
    assert list(Organisation.objects.filter(pk=owner.tenant_id, fax="")) == [owner.tenant]
    assert list(Organisation.objects.exclude(phone="").filter(pk=owner.tenant_id)) == [owner.tenant]
    assert not Organisation.objects.filter(pk=owner.tenant_id, phone__isnull=True).exists()


def test_a_contact_phone_hash_follows_the_phone_and_finds_the_contact(owner, make_client_user):
    """Creating, changing and blanking a phone keep its keyed hash beside it; the organisation's
    contacts are found by the number however it is typed, and only the organisation's."""
    other = make_client_user()
    with tenant_scope(other.tenant):
        do_create_contact(other.tenant, email="ailleurs@example.com", phone=CONTACT_PHONE)
    with tenant_scope(owner.tenant):
        contact = do_create_contact(owner.tenant, email="ana@example.com", phone=CONTACT_PHONE)
        do_create_contact(owner.tenant, email="bob@example.com")
        assert raw("audience_contact", "phone_hash", contact.pk) == keyed_hash(
            CONTACT_PHONE, "audience.contact.phone"
        )
        assert list(contacts_with_phone("514 555-0173")) == [contact]
        assert list(contacts_with_phone("not a number")) == []

        do_update_contact(contact, phone="+15145550174")
        assert list(contacts_with_phone(CONTACT_PHONE)) == []
        assert list(contacts_with_phone("+1 514 555 0174")) == [contact]

        do_update_contact(contact, phone="")
        assert (raw("audience_contact", "phone", contact.pk), contact.phone_hash) == ("", "")

        made = Contact.objects.bulk_create(
            [Contact(tenant=owner.tenant, email="cleo@example.com", phone=CONTACT_PHONE)]
        )
        assert list(contacts_with_phone(CONTACT_PHONE)) == made


def test_an_imported_phone_is_sealed_and_hashed_and_a_same_number_changes_nothing(owner):
    """The import writes phones sealed with their hash; the same number imported again leaves the
    contact unchanged (the hashes compare, the sealed forms never would)."""
    with tenant_scope(owner.tenant):
        news = do_create_list(owner.tenant, name="News")
    text = "email,name,phone\nana@example.com,Ana,514 555 0173\n"
    first = start(owner, news, text)
    run_import(first.pk)
    with tenant_scope(owner.tenant):
        contact = Contact.objects.get(email="ana@example.com")
        assert contact.phone == CONTACT_PHONE
        assert list(contacts_with_phone(CONTACT_PHONE)) == [contact]
    assert raw("audience_contact", "phone", contact.pk).startswith("enc:1:")
    again = start(owner, news, text)
    run_import(again.pk)
    again.refresh_from_db()
    assert (again.updated_count, again.unchanged_count) == (0, 1)
    changed = start(owner, news, "email,phone\nana@example.com,+15145550174\n")
    run_import(changed.pk)
    changed.refresh_from_db()
    assert changed.updated_count == 1
    with tenant_scope(owner.tenant):
        assert Contact.objects.get(email="ana@example.com").phone == "+15145550174"


def test_a_segment_condition_on_the_phone_is_refused_with_its_code(owner):
    """Segments cannot compare an encrypted phone: the condition is refused as invalid_segment."""
    definition = {
        "match": "all",
        "conditions": [{"field": "phone", "op": "equals", "value": CONTACT_PHONE}],
    }
    with tenant_scope(owner.tenant), pytest.raises(InvalidSegment) as raised:
        check_definition(definition)
    assert raised.value.code == "invalid_segment"
    assert [d["field"] for d in raised.value.details] == ["conditions.0.field"]


# The registry --------------------------------------------------------------------------------


def test_every_field_declared_confidential_is_encrypted_and_every_encrypted_one_declared():
    """The declaration is the source: the check finds nothing amiss, the named fields are
    encrypted, and the one-way hashes are exempt, not encrypted."""
    assert encryption.check_confidential_encrypted() == []
    assert privacy_checks.confidential_fields_encrypted in registry.registry.get_checks()
    declared = encryption.declared_confidential()
    for label, name in (
        ("accounts.Organisation", "phone"),
        ("accounts.Organisation", "fax"),
        ("audience.Contact", "phone"),
        ("webhooks.WebhookEndpoint", "secret"),
        ("staff.StaffTOTPDevice", "key"),
    ):
        assert declared[(label, name)] is False
        assert isinstance(apps.get_model(label)._meta.get_field(name), EncryptedField)
    for label, name in (
        ("accounts.User", "password"),
        ("accounts.ApiToken", "digest"),
        ("staff.StaffRecoveryCode", "code_hash"),
    ):
        assert personal_field(label, name).hashed is True
        assert declared[(label, name)] is True
        assert not isinstance(apps.get_model(label)._meta.get_field(name), EncryptedField)
    encrypted = {(m._meta.label, f.name) for m, f in encryption.encrypted_fields()}
    assert encrypted == {key for key, hashed in declared.items() if not hashed}


def test_the_check_names_a_clear_confidential_field_an_undeclared_encrypted_one_and_a_hash():
    """A field declared confidential but stored in clear, an encrypted field nobody declared, and
    a one-way hash that is encrypted are each named."""
    models = [Contact, Organisation]
    declared = {("audience.Contact", "name"): False, ("accounts.Organisation", "phone"): True}
    problems = [p for _, p in encryption.check_confidential_encrypted(models, declared)]
    assert problems == [
        "accounts.Organisation.phone is declared a one-way hash (hashed=True) but is encrypted: "
        "a hash needs no key; remove hashed=True if the value must be read back.",
        "audience.Contact.name is declared confidential but stored in clear: make it an "
        "EncryptedCharField or EncryptedTextField (infolettre.privacy.fields) with a migration "
        "that encrypts the existing values (encrypting_migration).",
        "audience.Contact.phone is encrypted but not declared confidential: declare it so in the "
        "app's personal_data.py (CONFIDENTIAL_SECRETS if it names no one).",
        "accounts.Organisation.fax is encrypted but not declared confidential: declare it so in "
        "the app's personal_data.py (CONFIDENTIAL_SECRETS if it names no one).",
    ]


# The database as an attacker reads it ----------------------------------------------------------


def test_no_confidential_value_is_in_clear_anywhere_in_the_database(
    make_client_user, settings, django_capture_on_commit_callbacks
):
    """After an organisation with phone and fax, a contact with a phone, a webhook with its
    secret and a staff member's authenticator and recovery codes are written (and what follows
    their commit has run), no table or column holds any of them, nor the phones' digits alone."""
    settings.FIELD_ENCRYPTION_KEYS = [KEY_A]
    with django_capture_on_commit_callbacks(execute=True):
        owner = make_client_user(phone=COMPANY_PHONE, fax=COMPANY_FAX)
    with tenant_scope(owner.tenant), django_capture_on_commit_callbacks(execute=True):
        do_create_contact(owner.tenant, email="ana@example.com", name="Ana", phone=CONTACT_PHONE)
        endpoint = do_create_endpoint(
            owner.tenant, url="https://hooks.example.com/in", events=["subscribe"]
        )
    secret = WebhookEndpoint.unscoped.get(pk=endpoint.pk).secret
    assert secret.startswith("whsec_")
    staff_member = make_staff("support")
    device = staff_actions.enrolment_device(staff_member)
    passed = staff_actions.do_pass_second_factor(staff_member, code=current_code(device))
    seed = (device.key, device.key.upper(), base64.b32encode(device.bin_key).decode())
    codes = [c for code in passed.recovery_codes for c in (code, code.replace("-", ""))]
    values = list(database_values())
    assert ("accounts_organisation", "name", owner.tenant.name) in values
    needles = [COMPANY_PHONE, COMPANY_FAX, CONTACT_PHONE, secret, *seed, *codes]
    needles += [n[2:] for n in (COMPANY_PHONE, COMPANY_FAX, CONTACT_PHONE)]
    assert mentions(*needles) == []


# Migrations and rotation --------------------------------------------------------------------


def test_the_data_migrations_encrypt_clear_values_and_decrypt_them_backwards(owner, settings):
    """Values written in clear before the migration are sealed by it (and the contact's hash
    filled); run backwards, the migration puts them back in clear."""
    settings.FIELD_ENCRYPTION_KEYS = [KEY_A]
    with tenant_scope(owner.tenant):
        contact = do_create_contact(owner.tenant, email="ana@example.com")
    set_raw("accounts_organisation", "phone", owner.tenant_id, COMPANY_PHONE)
    set_raw("audience_contact", "phone", contact.pk, CONTACT_PHONE)
    editor = SimpleNamespace(connection=connection)
    organisations = importlib.import_module(
        "infolettre.accounts.migrations.0003_encrypt_phone_and_fax"
    )
    contacts = importlib.import_module("infolettre.audience.migrations.0004_encrypt_contact_phone")
    migrate = organisations.Migration.operations[-1]

    migrate.code(apps, editor)
    contacts.encrypt_phones(apps, editor)
    assert raw("accounts_organisation", "phone", owner.tenant_id).startswith("enc:1:")
    assert raw("audience_contact", "phone", contact.pk).startswith("enc:1:")
    assert Organisation.objects.get(pk=owner.tenant_id).phone == COMPANY_PHONE
    with tenant_scope(owner.tenant):
        assert list(contacts_with_phone(CONTACT_PHONE)) == [contact]

    migrate.code(apps, editor)  # twice: nothing sealed twice
    assert Organisation.objects.get(pk=owner.tenant_id).phone == COMPANY_PHONE

    migrate.reverse_code(apps, editor)
    contacts.decrypt_phones(apps, editor)
    assert raw("accounts_organisation", "phone", owner.tenant_id) == COMPANY_PHONE
    assert raw("audience_contact", "phone", contact.pk) == CONTACT_PHONE
    assert raw("audience_contact", "phone_hash", contact.pk) == ""


def test_reencrypt_fields_moves_every_value_to_the_new_key(make_client_user, settings):
    """Written under A; with keys "B,A" the command re-encrypts every value under B and says how
    many per model; then B alone reads everything, and a second run changes nothing."""
    settings.FIELD_ENCRYPTION_KEYS = [KEY_A]
    owner = make_client_user(phone=COMPANY_PHONE, fax=COMPANY_FAX)
    with tenant_scope(owner.tenant):
        contact = do_create_contact(owner.tenant, email="ana@example.com", phone=CONTACT_PHONE)
        do_create_contact(owner.tenant, email="bob@example.com")
        endpoint = do_create_endpoint(owner.tenant, url="https://hooks.example.com/in", events=[])
    secret = WebhookEndpoint.unscoped.get(pk=endpoint.pk).secret
    device = StaffTOTPDevice.objects.create(user=make_staff("support"), name="authenticator")
    key_a = encryption.current_key_id()

    settings.FIELD_ENCRYPTION_KEYS = [KEY_B, KEY_A]
    key_b = encryption.current_key_id()
    out = StringIO()
    call_command("reencrypt_fields", "--batch-size", "1", stdout=out)
    assert out.getvalue().splitlines() == [
        f"accounts.Organisation: 2 re-encrypted (fax 1, phone 1), 0 already under key {key_b}",
        f"audience.Contact: 1 re-encrypted (phone 1), 0 already under key {key_b}",
        f"staff.StaffTOTPDevice: 1 re-encrypted (key 1), 0 already under key {key_b}",
        f"webhooks.WebhookEndpoint: 1 re-encrypted (secret 1), 0 already under key {key_b}",
    ]
    assert encryption.key_id_of(raw("audience_contact", "phone", contact.pk)) == key_b
    assert key_a != key_b

    settings.FIELD_ENCRYPTION_KEYS = [KEY_B]
    organisation = Organisation.objects.get(pk=owner.tenant_id)
    assert (organisation.phone, organisation.fax) == (COMPANY_PHONE, COMPANY_FAX)
    with tenant_scope(owner.tenant):
        assert Contact.objects.get(pk=contact.pk).phone == CONTACT_PHONE
        assert list(contacts_with_phone(CONTACT_PHONE)) == [contact]
    assert WebhookEndpoint.unscoped.get(pk=endpoint.pk).secret == secret
    assert StaffTOTPDevice.objects.get(pk=device.pk).key == device.key

    again = StringIO()
    call_command("reencrypt_fields", stdout=again)
    assert again.getvalue().splitlines() == [
        f"accounts.Organisation: 0 re-encrypted (fax 0, phone 0), 2 already under key {key_b}",
        f"audience.Contact: 0 re-encrypted (phone 0), 1 already under key {key_b}",
        f"staff.StaffTOTPDevice: 0 re-encrypted (key 0), 1 already under key {key_b}",
        f"webhooks.WebhookEndpoint: 0 re-encrypted (secret 0), 1 already under key {key_b}",
    ]


def test_reencrypt_fields_encrypts_a_value_an_old_writer_left_in_clear(owner):
    """A clear value (written around the ORM) is sealed by the command, not skipped."""
    set_raw("accounts_organisation", "fax", owner.tenant_id, COMPANY_FAX)
    call_command("reencrypt_fields", stdout=StringIO())
    assert encryption.key_id_of(raw("accounts_organisation", "fax", owner.tenant_id)) == (
        encryption.current_key_id()
    )
    assert Organisation.objects.get(pk=owner.tenant_id).fax == COMPANY_FAX


def test_reencrypt_fields_stops_by_name_on_a_key_that_is_not_listed(owner, settings):
    """A value sealed under a key left out of FIELD_ENCRYPTION_KEYS stops the command with an
    error naming that key's id, not a traceback; the value is left as it was."""
    stored = raw("accounts_organisation", "phone", owner.tenant_id)
    settings.FIELD_ENCRYPTION_KEYS = [KEY_B]
    with pytest.raises(CommandError, match=f"sealed by key {encryption.key_id_of(stored)}"):
        call_command("reencrypt_fields", stdout=StringIO())
    assert raw("accounts_organisation", "phone", owner.tenant_id) == stored
