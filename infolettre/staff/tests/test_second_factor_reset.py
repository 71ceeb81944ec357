"""A staff member who lost their authenticator app has their second factor reset by another
administrator (or by the system's command): the app and recovery codes stop working, every session
of theirs ends, and their next sign-in sets up a new app."""

import io
import re

import pytest
from django.contrib.messages import get_messages
from django.core.management import CommandError, call_command
from django.test import Client

from infolettre.privacy.audit import verify_chain
from infolettre.privacy.models import AuditEntry
from infolettre.staff import actions
from infolettre.staff.errors import OwnSecondFactorReset, ResetReasonRequired
from infolettre.staff.models import StaffRecoveryCode, StaffTOTPDevice
from infolettre.staff.testing import STAFF_PASSWORD, current_code, sign_in_staff

REASON = "Phone lost, ticket IT-2207"
CODE = re.compile(r"<li><code>([a-z2-9]{5}-[a-z2-9]{5})</code></li>")


def _url(user):
    return f"/equipe/personnel/{user.pk}/deuxieme-facteur/"


def _enrolled(user):
    """Set up the staff member's app as their first sign-in does; return (device, recovery codes)."""
    device = actions.enrolment_device(user)
    passed = actions.do_pass_second_factor(user, code=current_code(device))
    return passed.device, passed.recovery_codes


def _verified_client(user):
    client = Client()
    sign_in_staff(client, user)
    return client


def _password_step(user):
    client = Client()
    response = client.post(
        "/connexion/",
        {"email": user.email, "password": STAFF_PASSWORD, "next": "/equipe/tableau-de-bord/"},
    )
    assert response.status_code == 302
    return client


def _state(user):
    """What a reset changes: the member's devices (id, confirmed) and unused recovery codes."""
    return (
        list(StaffTOTPDevice.objects.filter(user=user).values_list("pk", "confirmed")),
        StaffRecoveryCode.objects.filter(user=user, used_at=None).count(),
    )


def _last_sequence():
    return AuditEntry.objects.order_by("-sequence").values_list("sequence", flat=True).first() or 0


def _is_in(client):
    return client.get("/equipe/tableau-de-bord/").status_code == 200


def test_an_administrator_resets_another_members_second_factor_and_it_is_audited(staff):
    """The app and the recovery codes are deleted, both of the member's sessions end, and one
    second_factor_reset entry names the administrator, the member and the reason; the
    administrator's and other staff's sessions go on."""
    admin, support, billing = staff["administrator"], staff["support"], staff["billing"]
    _enrolled(support)
    on_laptop, on_phone = _verified_client(support), _verified_client(support)
    half_way = _password_step(support)  # past the password, not yet past the code
    colleague = _verified_client(billing)
    client = _verified_client(admin)
    before = _last_sequence()

    page = client.get(_url(support))
    assert page.status_code == 200
    assert 'name="reason"' in page.content.decode()
    response = client.post(_url(support), {"reason": f"  {REASON} "})

    assert (response.status_code, response.url) == (302, "/equipe/personnel/")
    assert [str(m) for m in get_messages(response.wsgi_request)] == [
        f"Le deuxième facteur de {support.name} est réinitialisé et toutes ses sessions sont "
        "fermées ; l’application sera configurée de nouveau à sa prochaine connexion."
    ]
    assert _state(support) == ([], 0)
    for session in (on_laptop, on_phone, half_way):
        answer = session.get("/equipe/tableau-de-bord/")
        assert answer.status_code == 302
        assert answer.url.startswith("/connexion/")
    assert _is_in(client) and _is_in(colleague)
    entry = AuditEntry.objects.get(sequence__gt=before)
    assert (
        entry.action,
        entry.actor_id,
        entry.actor_role,
        entry.target,
        entry.reason,
        entry.details,
    ) == (
        "second_factor_reset",
        admin.pk,
        "staff:administrator",
        f"accounts.User:{support.pk}",
        REASON,
        {"devices_deleted": 1, "recovery_codes_deleted": 10, "sessions_ended": 3},
    )
    assert verify_chain().intact


def test_after_a_reset_the_old_app_and_codes_fail_and_the_member_enrols_again(staff, settings):
    """At the next sign-in the old app's code and the old recovery codes are refused; the page
    shows a new key to set up, whose code signs in and makes ten new recovery codes."""
    # The device's back-off after a wrong code would refuse the right one tried a moment later.
    settings.OTP_TOTP_THROTTLE_FACTOR = 0
    support = staff["support"]
    old_device, old_codes = _enrolled(support)
    actions.do_reset_second_factor(staff["administrator"], support, REASON)
    reset = _last_sequence()

    client = _password_step(support)
    page = client.get("/equipe/verification/").content.decode()
    assert 'id="totp-secret"' in page and 'name="recovery_code"' not in page
    (new_device,) = StaffTOTPDevice.objects.filter(user=support)
    assert (new_device.confirmed, new_device.key != old_device.key) == (False, True)
    old_code = current_code(old_device)
    # One chance in a million that both apps show the same code now: that code is then not wrong.
    tried_old_app = old_code != current_code(new_device)
    if tried_old_app:
        assert client.post("/equipe/verification/", {"code": old_code}).status_code == 400
    assert client.post("/equipe/verification/", {"recovery_code": old_codes[0]}).status_code == 400
    assert not _is_in(client)

    response = client.post("/equipe/verification/", {"code": current_code(new_device)})
    assert response.status_code == 200
    new_codes = CODE.findall(response.content.decode())
    assert len(set(new_codes)) == 10 and not set(new_codes) & set(old_codes)
    assert _is_in(client)
    assert _state(support) == ([(new_device.pk, True)], 10)
    assert list(AuditEntry.objects.filter(sequence__gt=reset).values_list("action", "details")) == [
        *([("staff_sign_in_failed", {"step": "code"})] if tried_old_app else []),
        ("staff_sign_in_failed", {"step": "recovery_code"}),
        ("staff_sign_in", {"enrolled": True, "method": "totp", "recovery_codes_made": 10}),
    ]


@pytest.mark.parametrize("role", ["support", "billing", "privacy_officer"])
def test_other_roles_are_refused_and_nothing_changes(staff, role):
    target = staff["billing"] if role == "support" else staff["support"]
    _enrolled(target)
    session = _verified_client(target)
    before_state, before = _state(target), _last_sequence()
    client = _verified_client(staff[role])

    assert client.get(_url(target)).status_code == 403
    assert client.post(_url(target), {"reason": REASON}).status_code == 403

    assert _state(target) == before_state
    assert before_state[1] == 10
    assert _last_sequence() == before
    assert _is_in(session)


def test_an_administrator_cannot_reset_their_own_second_factor(staff):
    """The page says another administrator must; a POST is refused and changes nothing. The
    personnel page offers the reset on every row but one's own."""
    admin = staff["administrator"]
    _enrolled(admin)
    client = _verified_client(admin)
    before_state, before = _state(admin), _last_sequence()

    page = client.get(_url(admin))
    assert page.status_code == 403
    html = page.content.decode()
    assert "Un autre administrateur doit réinitialiser votre propre deuxième facteur." in html
    assert 'name="reason"' not in html
    refused = client.post(_url(admin), {"reason": REASON})
    assert refused.status_code == 403

    assert (_state(admin), _last_sequence()) == (before_state, before)
    assert _is_in(client)
    personnel = client.get("/equipe/personnel/").content.decode()
    assert f'href="{_url(admin)}"' not in personnel
    assert f'href="{_url(staff["support"])}"' in personnel
    with pytest.raises(OwnSecondFactorReset):
        actions.do_reset_second_factor(admin, admin, REASON)


def test_a_reset_without_a_reason_is_refused_and_changes_nothing(staff):
    support = staff["support"]
    _enrolled(support)
    session = _verified_client(support)
    client = _verified_client(staff["administrator"])
    before_state, before = _state(support), _last_sequence()

    response = client.post(_url(support), {"reason": "   "})

    assert response.status_code == 400
    assert (
        "Indiquez pourquoi le deuxième facteur de ce membre du personnel est réinitialisé."
        in response.content.decode()
    )
    assert (_state(support), _last_sequence()) == (before_state, before)
    assert _is_in(session)
    with pytest.raises(ResetReasonRequired):
        actions.do_reset_second_factor(staff["administrator"], support, "")


def test_only_staff_accounts_can_be_reset(staff, make_client_user):
    """A client user's id, or no account at all, is not a page of the staff list."""
    client = _verified_client(staff["administrator"])
    owner = make_client_user()
    before = _last_sequence()
    for pk in (owner.pk, 999999):
        url = f"/equipe/personnel/{pk}/deuxieme-facteur/"
        assert client.get(url).status_code == 404
        assert client.post(url, {"reason": REASON}).status_code == 404
    assert _last_sequence() == before


def test_an_administrator_without_the_second_factor_is_sent_to_it(staff):
    support = staff["support"]
    _enrolled(support)
    client = _password_step(staff["administrator"])
    response = client.post(_url(support), {"reason": REASON})
    assert response.status_code == 302
    assert response.url.startswith("/equipe/verification/")
    assert _state(support)[1] == 10


def test_the_personnel_page_shows_whose_second_factor_is_set_up(staff):
    _enrolled(staff["support"])
    client = _verified_client(staff["administrator"])
    html = client.get("/equipe/personnel/").content.decode()
    rows = {
        role: re.search(rf'<tr id="staff-{user.pk}">(.*?)</tr>', html, re.S)[1]
        for role, user in staff.items()
    }
    assert "configuré" in rows["support"] and "non configuré" not in rows["support"]
    assert "non configuré" in rows["billing"]
    assert "configuré" in rows["administrator"]  # signed in with both factors


def test_the_command_resets_as_the_system(staff):
    """For when no other administrator can: even the only administrator's own second factor, by
    its address in any case, audited as done by the system with the reason."""
    admin = staff["administrator"]
    _enrolled(admin)
    session = _verified_client(admin)
    before = _last_sequence()
    out = io.StringIO()

    call_command("reset_staff_second_factor", admin.email.upper(), "--reason", REASON, stdout=out)

    assert _state(admin) == ([], 0)
    assert not _is_in(session)
    assert admin.email not in out.getvalue()
    assert f"staff account {admin.pk} reset" in out.getvalue()
    entry = AuditEntry.objects.get(sequence__gt=before)
    assert (
        entry.action,
        entry.actor_id,
        entry.actor_role,
        entry.target,
        entry.reason,
        entry.details,
    ) == (
        "second_factor_reset",
        None,
        "system",
        f"accounts.User:{admin.pk}",
        REASON,
        {"devices_deleted": 1, "recovery_codes_deleted": 10, "sessions_ended": 1},
    )


def test_the_command_refuses_an_unknown_or_client_address_and_a_blank_reason(
    staff, make_client_user
):
    support = staff["support"]
    _enrolled(support)
    owner = make_client_user()
    before_state, before = _state(support), _last_sequence()
    for email in ("nobody@example.com", owner.email):
        with pytest.raises(CommandError, match=r"^No staff account has this address\.$"):
            call_command("reset_staff_second_factor", email, "--reason", REASON)
    with pytest.raises(CommandError, match=r"^Give the reason of the reset with --reason\.$"):
        call_command("reset_staff_second_factor", support.email, "--reason", " ")
    assert (_state(support), _last_sequence()) == (before_state, before)
