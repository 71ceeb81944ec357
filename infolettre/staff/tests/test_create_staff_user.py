"""manage.py create_staff_user makes a staff account and prints a one-time password link."""

import re
from io import StringIO

from django.core.management import call_command

from infolettre.accounts.models import User
from infolettre.privacy.models import AuditAction, AuditEntry


def test_the_command_creates_a_staff_member_with_a_password_link(client, db):
    out = StringIO()
    call_command(
        "create_staff_user",
        email="Nadia@Infolettre.example",
        name="Nadia",
        role="billing",
        stdout=out,
    )
    user = User.objects.get(email="nadia@infolettre.example")
    assert (user.is_staff, user.staff_role, user.tenant_id, user.has_usable_password()) == (
        True,
        "billing",
        None,
        False,
    )
    link = re.search(r"http://127\.0\.0\.1:8000(/mot-de-passe/nouveau/\S+/)", out.getvalue())
    assert link
    password = "a brand new staff passphrase"
    response = client.post(link.group(1), {"password": password, "password_again": password})
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.check_password(password)
    entry = AuditEntry.objects.get()
    assert (entry.action, entry.actor_role, entry.details) == (
        AuditAction.ROLE_CHANGE,
        "system",
        {"from": "", "to": "billing"},
    )


def test_demo_data_has_one_staff_member_per_role_with_the_demo_password(db):
    from infolettre.accounts.management.commands.load_demo_data import DEMO_PASSWORD

    out = StringIO()
    call_command("load_demo_data", stdout=out)
    staff = User.objects.filter(is_staff=True).order_by("email")
    assert [(u.email, u.staff_role, u.tenant_id) for u in staff] == [
        ("admin@infolettre.local", "administrator", None),
        ("facturation@infolettre.local", "billing", None),
        ("responsable@infolettre.local", "privacy_officer", None),
        ("soutien@infolettre.local", "support", None),
    ]
    assert all(u.check_password(DEMO_PASSWORD) for u in staff)
    assert "staff (support): soutien@infolettre.local / demo-infolettre-2026" in out.getvalue()
