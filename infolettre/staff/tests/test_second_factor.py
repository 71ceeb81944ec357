"""Staff sign in with their password, then a TOTP code; the first sign-in sets the app up."""

from django.test import override_settings
from django_otp.plugins.otp_totp.models import TOTPDevice

from infolettre.privacy.models import AuditAction, AuditEntry
from infolettre.staff.testing import STAFF_PASSWORD, confirmed_device, current_code, sign_in_staff


def _password_step(client, user, next_url="/equipe/tableau-de-bord/"):
    response = client.post(
        "/connexion/", {"email": user.email, "password": STAFF_PASSWORD, "next": next_url}
    )
    assert response.status_code == 302


def test_without_the_second_factor_staff_pages_redirect_to_it(client, staff):
    """A password-only staff session is sent to the code step from every staff page."""
    _password_step(client, staff["privacy_officer"])
    for url in ("/equipe/tableau-de-bord/", "/equipe/vie-privee/", "/equipe/clients/"):
        response = client.get(url)
        assert response.status_code == 302
        assert response.url.startswith("/equipe/verification/?next=")


def test_first_sign_in_shows_the_qr_code_and_key_then_confirms_with_a_code(client, staff):
    support = staff["support"]
    _password_step(client, support)
    page = client.get("/equipe/verification/?next=/equipe/clients/")
    device = TOTPDevice.objects.get(user=support)
    html = page.content.decode()
    assert page.status_code == 200
    assert '<svg width="' in html and 'class="segno"' in html
    assert 'id="totp-secret"' in html
    assert device.confirmed is False
    response = client.post(
        "/equipe/verification/", {"code": current_code(device), "next": "/equipe/clients/"}
    )
    assert (response.status_code, response.url) == (302, "/equipe/clients/")
    device.refresh_from_db()
    assert device.confirmed is True
    assert client.get("/equipe/clients/").status_code == 200
    entry = AuditEntry.objects.get()
    assert (entry.action, entry.actor_id, entry.details) == (
        AuditAction.STAFF_SIGN_IN,
        support.pk,
        {"enrolled": True},
    )


def test_later_sign_ins_ask_only_for_the_code(client, staff):
    billing = staff["billing"]
    device = confirmed_device(billing)
    _password_step(client, billing)
    page = client.get("/equipe/verification/").content.decode()
    assert 'class="segno"' not in page and "totp-secret" not in page
    response = client.post("/equipe/verification/", {"code": current_code(device)})
    assert (response.status_code, response.url) == (302, "/equipe/tableau-de-bord/")
    assert TOTPDevice.objects.filter(user=billing).count() == 1


def test_a_wrong_code_signs_nobody_in_and_is_audited(client, staff):
    billing = staff["billing"]
    device = confirmed_device(billing)
    _password_step(client, billing)
    wrong = "000000" if current_code(device) != "000000" else "111111"
    response = client.post("/equipe/verification/", {"code": wrong})
    assert response.status_code == 400
    assert client.get("/equipe/tableau-de-bord/").status_code == 302
    assert list(AuditEntry.objects.values_list("action", flat=True)) == [
        AuditAction.STAFF_SIGN_IN_FAILED
    ]


@override_settings(LOGIN_FAILURE_LIMIT=3)
def test_code_attempts_are_throttled_even_for_the_right_code(client, staff):
    """After the limit of wrong codes, even the right one is refused (429) for the window."""
    admin = staff["administrator"]
    device = confirmed_device(admin)
    _password_step(client, admin)
    wrong = "000000" if current_code(device) != "000000" else "111111"
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
