"""A client erasing one of its contacts, by the API or the contact page: the audit trail names the
user who erased, and the chain stays intact."""

import io

import pytest
from django.core.management import call_command

from conftest import basic_auth
from infolettre.accounts.tenancy import tenant_scope
from infolettre.audience.actions import (
    do_create_contact,
    do_create_list,
    do_erase_contact,
    do_subscribe,
)
from infolettre.audience.models import Contact
from infolettre.privacy.audit import SYSTEM, do_record_audit
from infolettre.privacy.erasure import do_erase_person
from infolettre.privacy.models import AuditAction, AuditEntry, ErasureRecord

EMAIL = "lucie.gagnon@example.com"


@pytest.fixture
def contact(owner):
    with tenant_scope(owner.tenant):
        contact = do_create_contact(owner.tenant, email=EMAIL, name="Lucie Gagnon")
        do_subscribe(contact, do_create_list(owner.tenant, name="Nouvelles"), source="test")
    # An entry before the erasure: the new one must chain to it.
    do_record_audit(owner, AuditAction.EXPORT, target="audience.MailingList:1")
    return contact


def _erasure_entry():
    entry = AuditEntry.objects.get(action=AuditAction.ERASURE)
    record = ErasureRecord.objects.get()
    return entry, record


def _chain_report():
    out = io.StringIO()
    call_command("verify_audit_chain", stdout=out)
    return out.getvalue().strip()


def test_an_erasure_by_the_api_names_the_user_who_erased(client, owner, contact):
    """POST /api/v1/contacts/{id}/erase as the owner: the erasure's audit row names the owner and
    the organisation; the chain of two entries verifies."""
    response = client.post(f"/api/v1/contacts/{contact.pk}/erase", **basic_auth(owner))

    assert response.status_code == 200, response.content[:300]
    entry, record = _erasure_entry()
    assert (entry.actor_id, entry.actor_role, entry.target, entry.tenant_id) == (
        owner.pk,
        "client:owner",
        f"privacy.ErasureRecord:{record.pk}",
        owner.tenant_id,
    )
    assert entry.details == {"cause": "client", "counts": response.json()["erased"]}
    assert _chain_report() == "chain intact: 2 entries"


def test_an_erasure_from_the_contact_page_names_the_member_who_erased(
    client, owner, make_member, contact
):
    """The erase button of the contact page, pressed by a member: the audit row names the member."""
    member = make_member(owner.tenant)
    client.force_login(member)

    response = client.post(f"/contacts/{contact.pk}/effacer/")

    assert (response.status_code, response["Location"]) == (302, "/contacts/")
    assert not Contact.unscoped.filter(pk=contact.pk).exists()
    entry, record = _erasure_entry()
    assert (entry.actor_id, entry.actor_role, entry.target, entry.tenant_id) == (
        member.pk,
        "client:member",
        f"privacy.ErasureRecord:{record.pk}",
        owner.tenant_id,
    )
    assert _chain_report() == "chain intact: 2 entries"


@pytest.mark.parametrize("by", [None, SYSTEM])
def test_a_client_erasure_without_a_user_is_refused_and_erases_nothing(owner, contact, by):
    """Erasing among a client's contacts is always some user's act: without one, nothing happens."""
    with pytest.raises(ValueError, match="names the user"):
        do_erase_contact(contact, by=by)
    with pytest.raises(ValueError, match="names the user"):
        do_erase_person(EMAIL, by=by, scope=owner.tenant)

    assert Contact.unscoped.filter(pk=contact.pk, email=EMAIL).exists()
    assert ErasureRecord.objects.count() == 0
    assert list(AuditEntry.objects.values_list("action", flat=True)) == ["export"]


def test_an_erasure_by_the_platform_is_recorded_as_the_system(owner, contact):
    """An erasure everywhere with no user behind it (SYSTEM) is recorded with the system as actor."""
    do_erase_person(EMAIL, by=SYSTEM)

    entry, _record = _erasure_entry()
    assert (entry.actor_id, entry.actor_role, entry.tenant_id) == (None, "system", None)
    assert _chain_report() == "chain intact: 2 entries"
