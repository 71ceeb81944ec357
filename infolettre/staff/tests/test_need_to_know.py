"""Each staff role sees only the declared fields its role may see; confidential ones need a reveal."""

import re
from html import unescape

import pytest

from infolettre.accounts.models import Organisation
from infolettre.privacy.declaration import declared_model
from infolettre.privacy.models import AuditAction, AuditEntry
from infolettre.staff.need_to_know import MASK, display_value, partial_mask
from infolettre.staff.testing import sign_in_staff

CLIENT_ROLES = ("support", "billing", "administrator")


def _cell(html, label, pk, name):
    """The shown value of one field row of the page."""
    row = re.search(
        rf'<tr id="field-{re.escape(label)}-{pk}-{name}">.*?<td>(.*?)</td>\s*<td>(.*?)</td>',
        html,
        re.S,
    )
    assert row, f"{label}.{name} is not on the page"
    shown = unescape(re.sub(r"<[^>]+>", "", row.group(1))).strip()
    return shown, "Révéler" in row.group(2) or "Reveal" in row.group(2)


@pytest.fixture
def client_org(make_client_user, make_member):
    owner = make_client_user(fax="+15145550199", gender="female", company_size="11-50")
    organisation = Organisation.objects.get(pk=owner.tenant_id)
    organisation.industry = "retail"
    organisation.save()
    make_member(organisation)
    return organisation


@pytest.mark.parametrize("role", CLIENT_ROLES)
def test_each_role_sees_a_declared_field_iff_the_declaration_lets_it(
    client, staff, client_org, role
):
    """For every declared field of the organisation and its users: masked whole when the role is
    not in visible_to; shown when it is, confidential values masked but for their last four
    characters, with a reveal button."""
    sign_in_staff(client, staff[role])
    html = client.get(f"/equipe/clients/{client_org.pk}/").content.decode()
    checked, hidden, shown_values = 0, set(), set()
    for obj in [client_org, *client_org.users.all()]:
        label = obj._meta.label
        for field in declared_model(label).fields:
            shown, has_reveal = _cell(html, label, obj.pk, field.name)
            value = display_value(obj, field.name)
            if role not in field.visible_to:
                expected = (MASK, False)
            elif field.confidential and value:
                expected = (partial_mask(value), True)
            else:
                expected = (value or "—", False)
            assert (label, field.name, shown, has_reveal) == (label, field.name, *expected)
            (hidden if role not in field.visible_to else shown_values).add(value)
            checked += 1
    assert checked >= 20
    # A masked value is nowhere on the page (unless another, visible field holds the same).
    assert [v for v in hidden - shown_values if len(v) > 3 and v in html] == []


def test_the_company_phone_shows_only_its_last_four_digits(client, staff, client_org):
    sign_in_staff(client, staff["support"])
    html = client.get(f"/equipe/clients/{client_org.pk}/").content.decode()
    assert _cell(html, "accounts.Organisation", client_org.pk, "phone") == ("••• ••• 0123", True)
    assert "5145550123" not in html


def test_the_privacy_officer_has_no_client_pages(client, staff, client_org):
    sign_in_staff(client, staff["privacy_officer"])
    assert client.get("/equipe/clients/").status_code == 403
    assert client.get(f"/equipe/clients/{client_org.pk}/").status_code == 403


def test_opening_a_client_page_is_audited(client, staff, client_org):
    sign_in_staff(client, staff["billing"])
    client.get(f"/equipe/clients/{client_org.pk}/")
    entry = AuditEntry.objects.get()
    assert (entry.action, entry.actor_id, entry.actor_role, entry.target, entry.tenant_id) == (
        AuditAction.CONFIDENTIAL_READ,
        staff["billing"].pk,
        "staff:billing",
        f"accounts.Organisation:{client_org.pk}",
        client_org.pk,
    )


def _reveal(client, organisation, reason, name="phone"):
    return client.post(
        f"/equipe/clients/{organisation.pk}/reveler/",
        {
            "model": "accounts.Organisation",
            "object": organisation.pk,
            "field": name,
            "reason": reason,
        },
    )


def test_a_reveal_needs_a_reason_and_records_nothing_without_one(client, staff, client_org):
    sign_in_staff(client, staff["support"])
    response = _reveal(client, client_org, "   ")
    assert response.status_code == 400
    assert "+15145550123" not in response.content.decode()
    assert AuditEntry.objects.count() == 0


def test_a_reveal_with_a_reason_is_audited_then_shows_the_value_once(client, staff, client_org):
    support = staff["support"]
    sign_in_staff(client, support)
    response = _reveal(client, client_org, "Case 4411: calling the client back")
    html = response.content.decode()
    assert response.status_code == 200
    assert '<code id="revealed-value">+15145550123</code>' in html
    assert "no-store" in response["Cache-Control"]
    entry = AuditEntry.objects.get()
    assert (
        entry.action,
        entry.actor_id,
        entry.target,
        entry.tenant_id,
        entry.reason,
        entry.details,
    ) == (
        AuditAction.REVEAL,
        support.pk,
        f"accounts.Organisation:{client_org.pk}",
        client_org.pk,
        "Case 4411: calling the client back",
        {"field": "phone"},
    )
    # The client page still masks it: a reveal shows the value once.
    page = client.get(f"/equipe/clients/{client_org.pk}/").content.decode()
    assert "+15145550123" not in page


def test_fields_the_role_may_not_see_cannot_be_revealed(client, staff, client_org):
    """Gender is for the privacy officer only; the password hash is for nobody; another
    organisation's id does not open this one's values."""
    sign_in_staff(client, staff["administrator"])
    user = client_org.users.first()
    for label, pk, name in [
        ("accounts.User", user.pk, "gender"),
        ("accounts.User", user.pk, "password"),
        ("accounts.Organisation", client_org.pk, "name"),
        ("accounts.Organisation", client_org.pk, "nope"),
    ]:
        response = client.post(
            f"/equipe/clients/{client_org.pk}/reveler/",
            {"model": label, "object": pk, "field": name, "reason": "curious"},
        )
        assert (name, response.status_code) == (name, 404)
    assert AuditEntry.objects.count() == 0


def test_a_reveal_through_another_organisations_page_is_404(
    client, staff, client_org, make_client_user
):
    other = make_client_user().tenant
    sign_in_staff(client, staff["support"])
    response = client.post(
        f"/equipe/clients/{other.pk}/reveler/",
        {
            "model": "accounts.Organisation",
            "object": client_org.pk,
            "field": "phone",
            "reason": "x",
        },
    )
    assert response.status_code == 404
    assert AuditEntry.objects.count() == 0


def test_only_administrators_change_staff_roles_and_each_change_is_audited(client, staff):
    support, admin = staff["support"], staff["administrator"]
    sign_in_staff(client, support)
    assert client.get("/equipe/personnel/").status_code == 403
    assert (
        client.post(f"/equipe/personnel/{support.pk}/role/", {"role": "administrator"}).status_code
        == 403
    )
    support.refresh_from_db()
    assert support.staff_role == "support"
    sign_in_staff(client, admin)
    assert client.get("/equipe/personnel/").status_code == 200
    response = client.post(f"/equipe/personnel/{support.pk}/role/", {"role": "billing"})
    assert (response.status_code, response.url) == (302, "/equipe/personnel/")
    support.refresh_from_db()
    assert support.staff_role == "billing"
    entry = AuditEntry.objects.get(action=AuditAction.ROLE_CHANGE)
    assert (entry.actor_id, entry.target, entry.details) == (
        admin.pk,
        f"accounts.User:{support.pk}",
        {"from": "support", "to": "billing"},
    )


def test_a_role_change_names_a_staff_member(client, staff, owner):
    sign_in_staff(client, staff["administrator"])
    response = client.post(f"/equipe/personnel/{owner.pk}/role/", {"role": "billing"})
    assert response.status_code == 404
    owner.refresh_from_db()
    assert (owner.is_staff, owner.staff_role) == (False, "")
