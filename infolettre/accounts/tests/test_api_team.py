"""An organisation's owners invite people with a role, change roles and remove members."""

import json
import re

from django.core import mail

from conftest import PASSWORD, basic_auth
from infolettre.accounts.models import Invitation, Role, User
from infolettre.privacy.models import ConsentEvent


def call(client, method, url, body=None, **extra):
    data = json.dumps(body) if body is not None else ""
    return client.generic(method, url, data, content_type="application/json", **extra)


def invite(client, owner, email="new.person@example.com", role="member"):
    return call(
        client, "POST", "/api/v1/invitations", {"email": email, "role": role}, **basic_auth(owner)
    )


def test_invitation_email_link_creates_a_confirmed_member(
    client, owner, django_capture_on_commit_callbacks
):
    """The invited person follows the emailed link and joins with the role they were given."""
    with django_capture_on_commit_callbacks(execute=True):
        assert invite(client, owner, role="owner").status_code == 201
    assert mail.outbox[0].to == ["new.person@example.com"]
    token = re.search(r"/invitation/([^/\s]+)/", mail.outbox[0].body).group(1)
    body = {
        "token": token,
        "name": "New Person",
        "title": "Editor",
        "password": PASSWORD,
        "accept_policy": True,
    }
    response = call(client, "POST", "/api/v1/invitations/accept", body)
    assert response.status_code == 201
    member = User.objects.get(email="new.person@example.com")
    assert (member.tenant_id, member.role, member.email_confirmed) == (
        owner.tenant_id,
        Role.OWNER,
        True,
    )
    assert call(client, "POST", "/api/v1/invitations/accept", body).json()["code"] == "invalid_link"


def test_an_unconfirmed_owner_cannot_send_invitations(client, make_client_user):
    """Until the address is confirmed, the account sends nothing."""
    unconfirmed = make_client_user(confirmed=False)
    response = invite(client, unconfirmed)
    assert response.status_code == 403
    assert response.json()["code"] == "account_not_confirmed"
    assert Invitation.unscoped.count() == 0


def test_a_member_cannot_invite_change_roles_or_remove(client, owner, make_member):
    member = make_member(owner.tenant, email_confirmed_at=owner.email_confirmed_at)
    assert invite(client, member).json()["code"] == "owner_required"
    patch = call(
        client, "PATCH", f"/api/v1/members/{owner.pk}", {"role": "member"}, **basic_auth(member)
    )
    assert patch.status_code == 403
    assert (
        call(client, "DELETE", f"/api/v1/members/{owner.pk}", **basic_auth(member)).status_code
        == 403
    )
    assert User.objects.get(pk=owner.pk).role == Role.OWNER


def test_the_last_owner_cannot_be_demoted_or_removed(client, owner):
    """An organisation always keeps an owner."""
    patch = call(
        client, "PATCH", f"/api/v1/members/{owner.pk}", {"role": "member"}, **basic_auth(owner)
    )
    assert patch.status_code == 409
    assert patch.json()["code"] == "last_owner"
    assert (
        call(client, "DELETE", f"/api/v1/members/{owner.pk}", **basic_auth(owner)).status_code
        == 409
    )
    assert User.objects.get(pk=owner.pk).role == Role.OWNER


def test_an_owner_changes_a_role_and_removes_a_member(client, owner, make_member):
    member = make_member(owner.tenant)
    patch = call(
        client, "PATCH", f"/api/v1/members/{member.pk}", {"role": "owner"}, **basic_auth(owner)
    )
    assert (patch.status_code, patch.json()["role"]) == (200, "owner")
    assert (
        call(client, "DELETE", f"/api/v1/members/{member.pk}", **basic_auth(owner)).status_code
        == 204
    )
    assert not User.objects.filter(pk=member.pk).exists()


def test_inviting_an_existing_account_or_twice_is_refused(client, owner, make_member):
    member = make_member(owner.tenant)
    assert invite(client, owner, email=member.email).json()["code"] == "already_member"
    assert invite(client, owner).status_code == 201
    assert invite(client, owner).json()["code"] == "invitation_pending"
    assert Invitation.unscoped.count() == 1


def test_members_list_shows_only_the_organisations_people(
    client, owner, make_member, make_client_user
):
    member = make_member(owner.tenant)
    make_client_user()
    emails = [
        m["email"] for m in call(client, "GET", "/api/v1/members", **basic_auth(owner)).json()
    ]
    assert sorted(emails) == sorted([owner.email, member.email])


def test_a_person_corrects_their_own_data(client, owner):
    """Accuracy: name, title and optional answers can be corrected at any time; bad values refused."""
    response = call(
        client,
        "PATCH",
        "/api/v1/me",
        {"title": "President", "gender": "female"},
        **basic_auth(owner),
    )
    assert response.status_code == 200
    assert (response.json()["title"], response.json()["gender"]) == ("President", "female")
    bad = call(client, "PATCH", "/api/v1/me", {"gender": "robot"}, **basic_auth(owner))
    assert bad.status_code == 422
    assert User.objects.get(pk=owner.pk).gender == "female"
    assert (
        call(
            client, "PATCH", "/api/v1/me", {"email": "x@example.com"}, **basic_auth(owner)
        ).status_code
        == 422
    )


def test_only_owners_correct_the_organisation(client, owner, make_member):
    member = make_member(owner.tenant)
    refused = call(
        client, "PATCH", "/api/v1/organisation", {"phone": "+15145550100"}, **basic_auth(member)
    )
    assert refused.status_code == 403
    done = call(
        client, "PATCH", "/api/v1/organisation", {"phone": "514 555 0100"}, **basic_auth(owner)
    )
    assert (done.status_code, done.json()["phone"]) == (200, "+15145550100")


def test_consent_is_given_and_withdrawn_per_purpose(client, owner):
    """Each answer is appended to the ledger; the latest one counts; never asked means no."""
    url = "/api/v1/me/consents"
    assert call(client, "GET", url, **basic_auth(owner)).json() == [
        {"purpose": "newsletter", "given": False},
        {"purpose": "special_offers", "given": False},
    ]
    call(client, "POST", url, {"purpose": "special_offers", "given": True}, **basic_auth(owner))
    answer = call(
        client, "POST", url, {"purpose": "special_offers", "given": False}, **basic_auth(owner)
    )
    assert answer.json() == [
        {"purpose": "newsletter", "given": False},
        {"purpose": "special_offers", "given": False},
    ]
    assert list(ConsentEvent.objects.values_list("purpose", "given")) == [
        ("special_offers", True),
        ("special_offers", False),
    ]
    unknown = call(client, "POST", url, {"purpose": "account", "given": False}, **basic_auth(owner))
    assert unknown.status_code == 422
    assert ConsentEvent.objects.count() == 2
