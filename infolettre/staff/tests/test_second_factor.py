"""Staff sign in with their password, then a TOTP code; the first sign-in sets the app up."""

import re
from base64 import b32encode

from django.db import connection
from django.test import Client, override_settings
from django_otp import DEVICE_ID_SESSION_KEY, devices_for_user
from django_otp.oath import TOTP

from infolettre.privacy.encryption import decrypt
from infolettre.privacy.models import AuditAction, AuditEntry
from infolettre.staff.models import StaffRecoveryCode, StaffTOTPDevice
from infolettre.staff.testing import STAFF_PASSWORD, confirmed_device, current_code, sign_in_staff


def _password_step(client, user, next_url="/equipe/tableau-de-bord/"):
    response = client.post(
        "/connexion/", {"email": user.email, "password": STAFF_PASSWORD, "next": next_url}
    )
    assert response.status_code == 302


def _wrong(code):
    return "000000" if code != "000000" else "111111"


def _stored_row(device):
    """The device's row as the database holds it, every column as text."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM staff_stafftotpdevice WHERE id = %s", [device.pk])
        names = [column[0] for column in cursor.description]
        return dict(zip(names, cursor.fetchone(), strict=True))


def test_without_the_second_factor_staff_pages_redirect_to_it(client, staff):
    """A password-only staff session is sent to the code step from every staff page."""
    _password_step(client, staff["privacy_officer"])
    for url in ("/equipe/tableau-de-bord/", "/equipe/vie-privee/", "/equipe/clients/"):
        response = client.get(url)
        assert response.status_code == 302
        assert response.url.startswith("/equipe/verification/?next=")


def test_first_sign_in_shows_the_qr_code_and_key_then_confirms_and_shows_recovery_codes(
    client, staff
):
    """The first code confirms the app; the answer shows ten recovery codes, once, then goes on."""
    support = staff["support"]
    _password_step(client, support)
    page = client.get("/equipe/verification/?next=/equipe/clients/")
    device = StaffTOTPDevice.objects.get(user=support)
    html = page.content.decode()
    assert page.status_code == 200
    assert '<svg width="' in html and 'class="segno"' in html
    secret = b32encode(device.bin_key).decode()
    shown = re.search(r'<code id="totp-secret">([A-Z2-7 ]+)</code>', html)[1]
    assert shown.replace(" ", "") == secret
    assert 'id="recovery"' not in html
    assert device.confirmed is False
    response = client.post(
        "/equipe/verification/", {"code": current_code(device), "next": "/equipe/clients/"}
    )
    assert response.status_code == 200
    codes = re.findall(
        r"<li><code>([a-z2-9]{5}-[a-z2-9]{5})</code></li>", response.content.decode()
    )
    assert len(set(codes)) == 10
    assert 'href="/equipe/clients/"' in response.content.decode()
    device.refresh_from_db()
    assert device.confirmed is True
    assert client.get("/equipe/clients/").status_code == 200
    assert client.get("/equipe/verification/").status_code == 302  # nothing is shown again
    entry = AuditEntry.objects.get()
    assert (entry.action, entry.actor_id, entry.details) == (
        AuditAction.STAFF_SIGN_IN,
        support.pk,
        {"enrolled": True, "method": "totp", "recovery_codes_made": 10},
    )
    assert StaffRecoveryCode.objects.filter(user=support, used_at=None).count() == 10


def test_the_seed_is_encrypted_in_the_database(staff):
    """Read as an attacker with the database reads it, the row holds no seed in any form."""
    device = confirmed_device(staff["billing"])
    row = _stored_row(device)
    stored = row["key"]
    assert stored.startswith("enc:1:")
    secret_forms = (device.key, device.key.upper(), b32encode(device.bin_key).decode())
    for value in row.values():
        assert not any(form in str(value) for form in secret_forms)
    assert decrypt(stored, "staff.StaffTOTPDevice.key") == device.key


def test_a_code_from_the_decrypted_seed_signs_in_and_django_otp_finds_the_device(client, staff):
    """The app holds the seed the database keeps sealed: its current code passes the step."""
    billing = staff["billing"]
    device = confirmed_device(billing)
    seed = decrypt(_stored_row(device)["key"], "staff.StaffTOTPDevice.key")
    code = f"{TOTP(bytes.fromhex(seed)).token():06d}"
    _password_step(client, billing)
    page = client.get("/equipe/verification/").content.decode()
    assert 'class="segno"' not in page and "totp-secret" not in page
    response = client.post("/equipe/verification/", {"code": code})
    assert (response.status_code, response.url) == (302, "/equipe/tableau-de-bord/")
    assert client.session[DEVICE_ID_SESSION_KEY] == f"staff.stafftotpdevice/{device.pk}"
    assert client.get("/equipe/tableau-de-bord/").status_code == 200
    assert list(devices_for_user(billing)) == [device]
    assert StaffTOTPDevice.objects.filter(user=billing).count() == 1
    entry = AuditEntry.objects.get()
    assert (entry.action, entry.details) == (
        AuditAction.STAFF_SIGN_IN,
        {"enrolled": False, "method": "totp"},
    )


def test_a_replayed_code_is_refused(client, staff):
    """A code that signed in once does not sign in again, even in another session."""
    billing = staff["billing"]
    device = confirmed_device(billing)
    code = current_code(device)
    _password_step(client, billing)
    assert client.post("/equipe/verification/", {"code": code}).status_code == 302
    other = Client()
    _password_step(other, billing)
    response = other.post("/equipe/verification/", {"code": code})
    assert response.status_code == 400
    assert "Ce code est erroné ou expiré" in response.content.decode()
    assert other.get("/equipe/tableau-de-bord/").status_code == 302
    assert list(AuditEntry.objects.values_list("action", flat=True)) == [
        AuditAction.STAFF_SIGN_IN,
        AuditAction.STAFF_SIGN_IN_FAILED,
    ]


def test_a_wrong_code_signs_nobody_in_and_is_audited(client, staff):
    billing = staff["billing"]
    device = confirmed_device(billing)
    _password_step(client, billing)
    response = client.post("/equipe/verification/", {"code": _wrong(current_code(device))})
    assert response.status_code == 400
    assert client.get("/equipe/tableau-de-bord/").status_code == 302
    entry = AuditEntry.objects.get()
    assert (entry.action, entry.details) == (AuditAction.STAFF_SIGN_IN_FAILED, {"step": "code"})
    device.refresh_from_db()
    assert device.throttling_failure_count == 1


@override_settings(LOGIN_FAILURE_LIMIT=3)
def test_code_attempts_are_throttled_even_for_the_right_code(client, staff):
    """After the limit of wrong codes, even the right one is refused (429) for the window."""
    admin = staff["administrator"]
    device = confirmed_device(admin)
    _password_step(client, admin)
    wrong = _wrong(current_code(device))
    statuses = [client.post("/equipe/verification/", {"code": wrong}).status_code for _ in range(3)]
    right = client.post("/equipe/verification/", {"code": current_code(device)})
    assert statuses == [400, 400, 400]
    assert right.status_code == 429
    assert client.get("/equipe/tableau-de-bord/").status_code == 302


def test_a_signed_out_visitor_is_sent_to_sign_in(client):
    response = client.get("/equipe/verification/")
    assert (response.status_code, response.url) == (
        302,
        "/connexion/?next=/equipe/verification/",
    )


def test_a_verified_session_skips_the_code_step(client, staff):
    sign_in_staff(client, staff["support"])
    response = client.get("/equipe/verification/?next=/equipe/clients/")
    assert (response.status_code, response.url) == (302, "/equipe/clients/")
