"""Ten single-use recovery codes stand in for the authenticator app; only their hashes are kept."""

import re

from django.contrib.auth.hashers import identify_hasher
from django.test import Client, override_settings

from infolettre.privacy.models import AuditAction, AuditEntry
from infolettre.staff import actions
from infolettre.staff.models import StaffRecoveryCode
from infolettre.staff.testing import STAFF_PASSWORD, confirmed_device, current_code, sign_in_staff

CODE = re.compile(r"<li><code>([a-z2-9]{5}-[a-z2-9]{5})</code></li>")


def _enrolled(user):
    """A staff member who set up the app, with the recovery codes the enrolment showed."""
    device = actions.enrolment_device(user)
    return actions.do_pass_second_factor(user, code=current_code(device)).recovery_codes


def _audited_after(enrolment):
    """The audit entries after the staff member's enrolment, as (action, details)."""
    entries = AuditEntry.objects.filter(sequence__gt=enrolment.sequence)
    return [(e.action, e.details) for e in entries]


def _password_step(user):
    client = Client()
    response = client.post(
        "/connexion/",
        {"email": user.email, "password": STAFF_PASSWORD, "next": "/equipe/tableau-de-bord/"},
    )
    assert response.status_code == 302
    return client


def _verified(client):
    return client.get("/equipe/tableau-de-bord/").status_code == 200


def test_the_codes_are_kept_only_as_password_hashes(staff):
    codes = _enrolled(staff["support"])
    stored = list(StaffRecoveryCode.objects.filter(user=staff["support"]))
    assert (len(codes), len(set(codes)), len(stored)) == (10, 10, 10)
    for row in stored:
        assert identify_hasher(row.code_hash).algorithm == "md5"  # the test settings' hasher
        assert not any(code.replace("-", "") in row.code_hash for code in codes)
        assert row.used_at is None


def test_a_recovery_code_signs_in_once_and_never_twice(staff):
    """Spent once, a code is refused the next time; each use and refusal is audited."""
    support = staff["support"]
    codes = _enrolled(support)
    enrolment = AuditEntry.objects.get()
    first = _password_step(support)
    page = first.get("/equipe/verification/").content.decode()
    assert 'name="recovery_code"' in page
    response = first.post("/equipe/verification/", {"recovery_code": codes[3].upper()})
    assert (response.status_code, response.url) == (302, "/equipe/tableau-de-bord/")
    dashboard = first.get("/equipe/tableau-de-bord/").content.decode()
    assert "Vous êtes entré avec un code de secours; il vous en reste 9." in dashboard
    assert StaffRecoveryCode.objects.filter(user=support, used_at__isnull=False).count() == 1

    second = _password_step(support)
    response = second.post("/equipe/verification/", {"recovery_code": codes[3]})
    assert response.status_code == 400
    assert not _verified(second)
    assert StaffRecoveryCode.objects.filter(user=support, used_at=None).count() == 9
    assert _audited_after(enrolment) == [
        (
            AuditAction.STAFF_SIGN_IN,
            {"enrolled": False, "method": "recovery_code", "recovery_codes_left": 9},
        ),
        (AuditAction.STAFF_SIGN_IN_FAILED, {"step": "recovery_code"}),
    ]


def test_a_code_typed_with_spaces_and_without_its_dash_still_works(staff):
    codes = _enrolled(staff["billing"])
    client = _password_step(staff["billing"])
    typed = f" {codes[0][:5]} {codes[0][6:]} ".upper()
    assert client.post("/equipe/verification/", {"recovery_code": typed}).status_code == 302
    assert _verified(client)


def test_another_staff_members_code_does_not_sign_in(staff):
    codes = _enrolled(staff["billing"])
    _enrolled(staff["support"])
    client = _password_step(staff["support"])
    response = client.post("/equipe/verification/", {"recovery_code": codes[0]})
    assert response.status_code == 400
    assert not _verified(client)
    assert StaffRecoveryCode.objects.filter(used_at__isnull=False).count() == 0


def test_no_recovery_code_before_the_app_is_set_up(staff):
    """At enrolment only the app's code confirms it: there is no recovery code yet."""
    support = staff["support"]
    client = _password_step(support)
    page = client.get("/equipe/verification/").content.decode()
    assert 'name="recovery_code"' not in page
    response = client.post("/equipe/verification/", {"recovery_code": "abcde-fghjk"})
    assert response.status_code == 400
    assert not _verified(client)
    assert StaffRecoveryCode.objects.count() == 0


@override_settings(LOGIN_FAILURE_LIMIT=3)
def test_recovery_code_attempts_share_the_sign_in_throttling(staff):
    """After the limit of wrong codes even a right recovery code is refused (429) and not spent."""
    admin = staff["administrator"]
    codes = _enrolled(admin)
    client = _password_step(admin)
    statuses = [
        client.post("/equipe/verification/", {"recovery_code": "zzzzz-zzzzz"}).status_code
        for _ in range(3)
    ]
    right = client.post("/equipe/verification/", {"recovery_code": codes[0]})
    assert (statuses, right.status_code) == ([400, 400, 400], 429)
    assert not _verified(client)
    assert StaffRecoveryCode.objects.filter(user=admin, used_at=None).count() == 10


def test_the_account_page_counts_the_codes_left(client, staff):
    support = staff["support"]
    codes = _enrolled(support)
    actions.do_pass_second_factor(support, recovery_code=codes[0])
    sign_in_staff(client, support)
    html = client.get("/equipe/compte/").content.decode()
    assert "9 codes de secours inutilisés sur 10." in html
    assert 'action="/equipe/compte/codes-de-secours/"' in html


def test_regenerating_shows_new_codes_once_and_the_old_ones_stop_working(client, staff):
    support = staff["support"]
    old = _enrolled(support)
    enrolment = AuditEntry.objects.get()
    sign_in_staff(client, support)
    response = client.post("/equipe/compte/codes-de-secours/")
    assert response.status_code == 200
    new = CODE.findall(response.content.decode())
    assert len(set(new)) == 10 and not set(new) & set(old)
    account = client.get("/equipe/compte/").content.decode()
    assert "10 codes de secours inutilisés sur 10." in account
    assert CODE.findall(account) == []
    entry = AuditEntry.objects.get(sequence__gt=enrolment.sequence)
    assert (entry.action, entry.actor_id, entry.target, entry.details) == (
        AuditAction.RECOVERY_CODES_REGENERATED,
        support.pk,
        f"accounts.User:{support.pk}",
        {"made": 10, "unused_replaced": 10},
    )

    refused = _password_step(support)
    assert refused.post("/equipe/verification/", {"recovery_code": old[0]}).status_code == 400
    assert not _verified(refused)
    accepted = _password_step(support)
    assert accepted.post("/equipe/verification/", {"recovery_code": new[0]}).status_code == 302
    assert _verified(accepted)


def test_regenerating_needs_a_post_and_a_passed_second_factor(client, staff):
    support = staff["support"]
    old = _enrolled(support)
    sign_in_staff(client, support)
    assert client.get("/equipe/compte/codes-de-secours/").status_code == 405
    half = _password_step(support)
    response = half.post("/equipe/compte/codes-de-secours/")
    assert response.status_code == 302
    assert response.url.startswith("/equipe/verification/")
    assert AuditEntry.objects.count() == 1  # the enrolment only
    assert actions.do_pass_second_factor(support, recovery_code=old[1]).method == "recovery_code"


def test_the_dashboard_warns_when_codes_run_short(client, staff):
    billing = staff["billing"]
    confirmed_device(billing)  # set up before recovery codes existed: none yet
    sign_in_staff(client, billing)
    html = client.get("/equipe/tableau-de-bord/").content.decode()
    assert 'id="recovery-codes-running-out"' in html
    assert "Il vous reste 0 code de secours inutilisé." in html
    actions.do_regenerate_recovery_codes(billing)
    html = client.get("/equipe/tableau-de-bord/").content.decode()
    assert 'id="recovery-codes-running-out"' not in html
