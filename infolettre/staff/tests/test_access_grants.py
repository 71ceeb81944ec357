"""A client's lists and contacts are invisible to staff but under the owner's time-limited grant."""

from datetime import timedelta

import pytest
from django.utils import timezone

from infolettre.accounts.tenancy import tenant_scope
from infolettre.audience.actions import do_create_contact, do_create_list, do_subscribe
from infolettre.privacy.models import AuditAction, AuditEntry
from infolettre.staff.actions import do_grant_access, do_revoke_access
from infolettre.staff.models import AccessGrant
from infolettre.staff.testing import sign_in_staff


@pytest.fixture
def shop(owner):
    with tenant_scope(owner.tenant):
        mailing_list = do_create_list(owner.tenant, name="Clients fidèles")
        contact = do_create_contact(
            owner.tenant, email="marie@example.com", name="Marie Roy", phone="+15145550177"
        )
        do_subscribe(contact, mailing_list, source="test")
    return owner, contact


def _lists(client, owner):
    return client.get(f"/equipe/clients/{owner.tenant_id}/listes/")


def test_lists_are_invisible_without_a_grant(client, staff, shop):
    owner, _ = shop
    sign_in_staff(client, staff["support"])
    response = _lists(client, owner)
    html = response.content.decode()
    assert response.status_code == 403
    assert "marie@example.com" not in html and "Clients fidèles" not in html
    assert AuditEntry.objects.count() == 0


def test_an_active_grant_shows_lists_and_contacts_with_confidential_fields_masked(
    client, staff, shop
):
    owner, _ = shop
    grant = do_grant_access(owner, role="support", days=3, case_reference="CASE-12")
    sign_in_staff(client, staff["support"])
    response = _lists(client, owner)
    html = response.content.decode()
    assert response.status_code == 200
    assert "Clients fidèles" in html and "marie@example.com" in html and "Marie Roy" in html
    assert "••• ••• 0177" in html and "+15145550177" not in html
    entry = AuditEntry.objects.filter(action=AuditAction.CONFIDENTIAL_READ).get()
    assert (entry.actor_id, entry.tenant_id, entry.reason, entry.details) == (
        staff["support"].pk,
        owner.tenant_id,
        "CASE-12",
        {"page": "lists", "grant": grant.pk},
    )


def test_a_grant_opens_the_lists_to_its_role_only(client, staff, shop):
    owner, _ = shop
    do_grant_access(owner, role="billing", days=1, case_reference="CASE-13")
    sign_in_staff(client, staff["support"])
    assert _lists(client, owner).status_code == 403
    sign_in_staff(client, staff["billing"])
    assert _lists(client, owner).status_code == 200


def test_a_grant_to_one_staff_member_opens_for_them_only(client, staff, shop):
    owner, _ = shop
    now = timezone.now()
    AccessGrant.unscoped.create(
        tenant=owner.tenant,
        staff_user=staff["administrator"],
        case_reference="CASE-14",
        granted_by=owner,
        starts_at=now,
        expires_at=now + timedelta(days=1),
    )
    admin2 = staff["administrator"].__class__.objects.create_user(
        "admin2@infolettre.example", "x" * 12, name="A2", is_staff=True, staff_role="administrator"
    )
    sign_in_staff(client, admin2)
    assert _lists(client, owner).status_code == 403
    sign_in_staff(client, staff["administrator"])
    assert _lists(client, owner).status_code == 200


def test_lists_are_invisible_again_after_expiry(client, staff, shop):
    owner, _ = shop
    do_grant_access(
        owner,
        role="support",
        days=2,
        case_reference="CASE-15",
        now=timezone.now() - timedelta(days=2, seconds=1),
    )
    sign_in_staff(client, staff["support"])
    assert _lists(client, owner).status_code == 403


def test_lists_are_invisible_again_after_revocation(client, staff, shop):
    owner, _ = shop
    grant = do_grant_access(owner, role="support", days=7, case_reference="CASE-16")
    sign_in_staff(client, staff["support"])
    assert _lists(client, owner).status_code == 200
    do_revoke_access(owner, grant)
    response = _lists(client, owner)
    assert response.status_code == 403
    assert "marie@example.com" not in response.content.decode()


def test_a_contacts_phone_is_revealed_with_a_reason_only_under_a_grant(client, staff, shop):
    owner, contact = shop
    sign_in_staff(client, staff["support"])
    url = f"/equipe/clients/{owner.tenant_id}/reveler/"
    body = {"model": "audience.Contact", "object": contact.pk, "field": "phone", "reason": "CASE"}
    assert client.post(url, body).status_code == 404
    grant = do_grant_access(owner, role="support", days=1, case_reference="CASE-17")
    response = client.post(url, body)
    assert '<code id="revealed-value">+15145550177</code>' in response.content.decode()
    do_revoke_access(owner, grant)
    assert client.post(url, body).status_code == 404
    assert AuditEntry.objects.filter(action=AuditAction.REVEAL).count() == 1


def test_the_owner_grants_support_access_for_days_with_a_case_reference(client, owner):
    client.force_login(owner)
    assert client.get("/compte/acces-soutien/").status_code == 200
    response = client.post(
        "/compte/acces-soutien/", {"case_reference": "CASE-20", "role": "support", "days": "3"}
    )
    assert (response.status_code, response.url) == (302, "/compte/acces-soutien/")
    grant = AccessGrant.unscoped.get()
    assert (grant.tenant_id, grant.role, grant.case_reference, grant.granted_by_id) == (
        owner.tenant_id,
        "support",
        "CASE-20",
        owner.pk,
    )
    assert grant.expires_at - grant.starts_at == timedelta(days=3)
    entry = AuditEntry.objects.get()
    assert (entry.action, entry.actor_id, entry.actor_role, entry.reason, entry.details) == (
        AuditAction.ACCESS_GRANT,
        owner.pk,
        "client:owner",
        "CASE-20",
        {"role": "support", "days": 3},
    )


@pytest.mark.parametrize(
    "body",
    [
        {"case_reference": "CASE", "role": "support", "days": "8"},
        {"case_reference": "CASE", "role": "support", "days": "0"},
        {"case_reference": "", "role": "support", "days": "3"},
        {"case_reference": "CASE", "role": "privacy_officer", "days": "3"},
    ],
)
def test_a_grant_lasts_a_week_at_most_and_names_a_case(client, owner, body):
    client.force_login(owner)
    assert client.post("/compte/acces-soutien/", body).status_code == 400
    assert AccessGrant.unscoped.count() == 0
    assert AuditEntry.objects.count() == 0


def test_the_owner_revokes_a_grant(client, owner):
    grant = do_grant_access(owner, role="support", days=3, case_reference="CASE-21")
    client.force_login(owner)
    response = client.post(f"/compte/acces-soutien/{grant.pk}/revoquer/")
    assert response.status_code == 302
    grant.refresh_from_db()
    assert grant.revoked_at is not None and grant.revoked_by_id == owner.pk
    assert list(AuditEntry.objects.values_list("action", flat=True).order_by("sequence")) == [
        AuditAction.ACCESS_GRANT,
        AuditAction.ACCESS_REVOKE,
    ]


def test_members_cannot_grant_access(client, owner, make_member):
    member = make_member(owner.tenant)
    client.force_login(member)
    assert client.get("/compte/acces-soutien/").status_code == 403
    body = {"case_reference": "CASE", "role": "support", "days": "3"}
    assert client.post("/compte/acces-soutien/", body).status_code == 403
    assert AccessGrant.unscoped.count() == 0
