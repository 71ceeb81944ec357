"""The audit trail: sensitive acts are appended to a hash chain that names people by id only, and
verify_audit_chain finds the first entry that was changed, removed or moved."""

import io
import json
import threading
from datetime import date

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, connections
from django.urls import reverse

from conftest import PASSWORD
from infolettre.accounts.actions import do_change_role, do_remove_member
from infolettre.accounts.errors import LastOwner
from infolettre.accounts.models import Role, User
from infolettre.accounts.tenancy import tenant_scope
from infolettre.audience.actions import (
    do_create_contact,
    do_create_list,
    do_delete_list,
    do_subscribe,
)
from infolettre.audience.segments import do_create_segment
from infolettre.privacy.audit import (
    GENESIS_HASH,
    SUBJECT,
    AuditAction,
    do_record_audit,
    entry_hash,
    verify_chain,
)
from infolettre.privacy.erasure import do_erase_person
from infolettre.privacy.incidents import (
    do_export_register,
    do_record_incident,
    do_update_incident,
)
from infolettre.privacy.models import AuditEntry, PrivacyRequestKind
from infolettre.privacy.requests import (
    do_answer_request,
    do_extend_request,
    do_prove_request,
    do_receive_request,
    make_proof_token,
)
from infolettre.privacy.retention import apply_retention

PERSON = "ariane.quenneville@example.com"
PERSON_NAME = "Ariane Quenneville"
PERSON_PHONE = "+15145550177"


def _trail():
    return list(
        AuditEntry.objects.order_by("sequence").values_list(
            "sequence", "action", "actor_id", "actor_role", "target", "tenant_id"
        )
    )


def assert_names_no_one(*values):
    """No column of any audit entry holds one of `values` (an address, a name, a phone)."""
    rows = json.dumps(list(AuditEntry.objects.values()), default=str, ensure_ascii=False).lower()
    for value in values:
        assert value.lower() not in rows


def _staff(role, email):
    return User.objects.create_user(
        email, PASSWORD, name="Staff Person", title="Staff", is_staff=True, staff_role=role
    )


@pytest.fixture
def officer(db):
    return _staff("privacy_officer", "officer@infolettre.example")


def _verify():
    """Run the command; return (exit code manage.py would give, output, error message)."""
    out = io.StringIO()
    try:
        call_command("verify_audit_chain", stdout=out)
    except CommandError as e:
        return e.returncode, out.getvalue().strip(), str(e)
    return 0, out.getvalue().strip(), ""


def _three_entries(owner):
    for n in range(3):
        do_record_audit(owner, AuditAction.EXPORT, target=f"audience.MailingList:{n + 1}")


# The chain ----------------------------------------------------------------------------------------


def test_entries_chain_from_the_genesis_hash_in_increasing_sequence(owner):
    """The first entry chains to the genesis hash, each next one to the hash of the one before."""
    first = do_record_audit(owner, AuditAction.EXPORT, target=owner.tenant, tenant=owner.tenant)
    second = do_record_audit(None, AuditAction.RETENTION_RUN, details={"counts": {}})
    assert (first.sequence, second.sequence) == (1, 2)
    assert first.previous_hash == GENESIS_HASH
    assert second.previous_hash == first.entry_hash
    stored = AuditEntry.objects.get(sequence=1)
    assert stored.entry_hash == entry_hash(stored, GENESIS_HASH) == first.entry_hash
    assert (stored.target, stored.tenant_id) == (
        f"accounts.Organisation:{owner.tenant_id}",
        owner.tenant_id,
    )


def test_the_actor_is_an_account_id_with_a_snapshot_of_its_role(owner, make_member, officer):
    """Staff and client users by id and role; the person themselves and the platform by kind."""
    member = make_member(owner.tenant)
    for actor in (owner, member, officer, SUBJECT, None):
        do_record_audit(actor, AuditAction.EXPORT)
    assert list(AuditEntry.objects.values_list("actor_id", "actor_role")) == [
        (owner.pk, "client:owner"),
        (member.pk, "client:member"),
        (officer.pk, "staff:privacy_officer"),
        (None, "subject"),
        (None, "system"),
    ]


def test_an_unknown_action_or_actor_is_refused_and_nothing_is_written(owner):
    with pytest.raises(ValueError):
        do_record_audit(owner, "made_up")
    with pytest.raises(ValueError):
        do_record_audit("somebody", AuditAction.EXPORT)
    assert AuditEntry.objects.count() == 0


def test_entries_cannot_be_changed_or_deleted_through_the_model(owner):
    entry = do_record_audit(owner, AuditAction.EXPORT, reason="support case 12")
    entry.reason = "nothing to see"
    with pytest.raises(TypeError):
        entry.save()
    with pytest.raises(TypeError):
        entry.delete()
    with pytest.raises(TypeError):
        AuditEntry.objects.update(reason="")
    with pytest.raises(TypeError):
        AuditEntry.objects.all().delete()
    assert list(AuditEntry.objects.values_list("reason", flat=True)) == ["support case 12"]


def test_an_entry_rolls_back_with_the_act_it_records(owner):
    """Recorded inside the act's transaction: a refused role change leaves no entry."""
    with tenant_scope(owner.tenant), pytest.raises(LastOwner):
        do_change_role(owner, owner, Role.MEMBER)
    assert AuditEntry.objects.count() == 0
    assert User.objects.get(pk=owner.pk).role == Role.OWNER


# Verification -------------------------------------------------------------------------------------


def test_verify_says_an_intact_chain_is_intact(owner):
    _three_entries(owner)
    assert _verify() == (0, "chain intact: 3 entries", "")
    assert verify_chain().intact


def test_verify_on_an_empty_trail(db):
    assert _verify() == (0, "chain intact: 0 entries", "")


def test_verify_names_an_entry_whose_content_was_changed_in_the_database(owner):
    """An UPDATE that bypasses the model is found: the entry's hash no longer matches."""
    _three_entries(owner)
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE privacy_auditentry SET target = %s WHERE sequence = 2", ["accounts.User:1"]
        )
    code, out, err = _verify()
    assert (code, out) == (1, "")
    assert err == (
        "chain broken at entry 2: content changed: entry 2 hash mismatch (2 entries read)"
    )


def test_verify_names_an_entry_whose_hash_was_rewritten_to_match(owner):
    """Rewriting the changed entry's own hash breaks the link from the next entry."""
    _three_entries(owner)
    entry = AuditEntry.objects.get(sequence=2)
    entry.actor_id = 999
    forged = entry_hash(entry, entry.previous_hash)
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE privacy_auditentry SET actor_id = 999, entry_hash = %s WHERE sequence = 2",
            [forged],
        )
    code, _out, err = _verify()
    assert code == 1
    assert err == (
        "chain broken at entry 2: content changed: entry 2's hash was rewritten "
        "(entry 3 chains to another hash) (3 entries read)"
    )


def test_verify_names_a_removed_entry(owner):
    _three_entries(owner)
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM privacy_auditentry WHERE sequence = 2")
    code, _out, err = _verify()
    assert code == 1
    assert err == (
        "chain broken at entry 2: entry removed: sequence 2 missing "
        "(gap before entry 3) (2 entries read)"
    )
    assert AuditEntry.objects.count() == 2


def test_verify_names_reordered_entries(owner):
    """Swapping two entries' places is named as a reordering at the first misplaced one."""
    _three_entries(owner)
    with connection.cursor() as cursor:
        cursor.execute("UPDATE privacy_auditentry SET sequence = 100 WHERE sequence = 2")
        cursor.execute("UPDATE privacy_auditentry SET sequence = 2 WHERE sequence = 3")
        cursor.execute("UPDATE privacy_auditentry SET sequence = 3 WHERE sequence = 100")
    code, _out, err = _verify()
    assert code == 1
    assert err == (
        "chain broken at entry 2: reordered: entry 2 chains to entry 3, "
        "not to the entry before it (2 entries read)"
    )


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_concurrent_appends_keep_one_chain():
    """Two writers appending at once on PostgreSQL: one sequence, no fork, the chain verifies."""
    if connection.vendor != "postgresql":
        pytest.skip("SQLite serialises every writer; the race needs PostgreSQL")
    per_thread, errors = 15, []
    start = threading.Barrier(2)

    def append(n):
        try:
            start.wait()
            for i in range(per_thread):
                do_record_audit(None, AuditAction.RETENTION_RUN, details={"writer": n, "i": i})
        except Exception as e:  # reported by the assertion below
            errors.append(e)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=append, args=(n,)) for n in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    sequences = list(AuditEntry.objects.order_by("sequence").values_list("sequence", flat=True))
    assert sequences == list(range(1, 2 * per_thread + 1))
    writers = set(AuditEntry.objects.values_list("details__writer", flat=True))
    assert writers == {1, 2}
    report = verify_chain()
    assert (report.intact, report.count) == (True, 2 * per_thread)


# The acts that are recorded -----------------------------------------------------------------------


@pytest.fixture
def contacts(owner):
    with tenant_scope(owner.tenant):
        news = do_create_list(owner.tenant, name="Nouvelles")
        contact = do_create_contact(
            owner.tenant, email=PERSON, name=PERSON_NAME, phone=PERSON_PHONE
        )
        do_subscribe(contact, news, source="test")
        segment = do_create_segment(
            owner.tenant,
            name="Abonnés",
            definition={
                "match": "all",
                "conditions": [{"field": "list", "op": "in", "value": news.pk}],
            },
        )
    return news, segment


def test_list_and_segment_exports_are_recorded_without_the_contacts(client, owner, contacts):
    news, segment = contacts
    client.force_login(owner)
    for name, obj in (("audience:export_list", news), ("audience:export_segment", segment)):
        response = client.get(reverse(name, args=[obj.pk]))
        assert response.status_code == 200
        assert PERSON in b"".join(response.streaming_content).decode()
    assert _trail() == [
        (1, "export", owner.pk, "client:owner", f"audience.MailingList:{news.pk}", owner.tenant_id),
        (2, "export", owner.pk, "client:owner", f"audience.Segment:{segment.pk}", owner.tenant_id),
    ]
    assert list(AuditEntry.objects.values_list("details", flat=True)) == [{"format": "csv"}] * 2
    assert_names_no_one(PERSON, PERSON_NAME, PERSON_PHONE, owner.email, owner.name)
    assert verify_chain().intact


def test_an_export_refused_for_its_conditions_is_not_recorded(client, owner, contacts):
    news, segment = contacts
    with tenant_scope(owner.tenant):
        do_delete_list(news)
    client.force_login(owner)
    response = client.get(reverse("audience:export_segment", args=[segment.pk]))
    assert response.status_code == 302
    assert AuditEntry.objects.count() == 0


def test_role_change_and_removal_are_recorded(owner, make_member):
    member = make_member(owner.tenant, name="Benoît Gagnon", email="benoit@example.com")
    member_id = member.pk
    with tenant_scope(owner.tenant):
        do_change_role(owner, member, Role.OWNER)
        do_remove_member(owner, member)
    assert _trail() == [
        (1, "role_change", owner.pk, "client:owner", f"accounts.User:{member_id}", owner.tenant_id),
        (
            2,
            "member_removal",
            owner.pk,
            "client:owner",
            f"accounts.User:{member_id}",
            owner.tenant_id,
        ),
    ]
    assert list(AuditEntry.objects.values_list("details", flat=True)) == [
        {"from": "member", "to": "owner"},
        {"role": "owner"},
    ]
    assert_names_no_one("benoit@example.com", "Benoît Gagnon", owner.email)


@pytest.fixture
def on_commit(django_capture_on_commit_callbacks):
    return django_capture_on_commit_callbacks


def test_privacy_request_steps_are_recorded(db, officer, mailoutbox):
    """Proven by the person, extended and answered by the officer; a refusal has its own code."""
    question = do_receive_request(kind=PrivacyRequestKind.QUESTION, email=PERSON, message="Hi")
    do_prove_request(question)
    do_extend_request(question, notice="More time needed.", by=officer)
    do_answer_request(question, answer="Here is the answer.", by=officer)
    refused = do_receive_request(kind=PrivacyRequestKind.CORRECTION, email=PERSON)
    do_prove_request(refused)
    do_answer_request(refused, answer="Not ours.", by=officer, refused=True)
    q, r = f"privacy.PrivacyRequest:{question.pk}", f"privacy.PrivacyRequest:{refused.pk}"
    assert _trail() == [
        (1, "privacy_request_verified", None, "subject", q, None),
        (2, "privacy_request_extended", officer.pk, "staff:privacy_officer", q, None),
        (3, "privacy_request_answered", officer.pk, "staff:privacy_officer", q, None),
        (4, "privacy_request_verified", None, "subject", r, None),
        (5, "privacy_request_refused", officer.pk, "staff:privacy_officer", r, None),
    ]
    assert AuditEntry.objects.get(sequence=3).details == {
        "kind": "question",
        "status": "answered",
        "closed": True,
    }
    assert_names_no_one(PERSON, "More time needed", "Here is the answer", "Not ours")
    # Proving twice changes nothing and records nothing more.
    do_prove_request(question)
    assert AuditEntry.objects.count() == 5


def test_a_person_reading_their_access_file_is_recorded_as_the_subject(client, owner, contacts):
    access = do_receive_request(kind=PrivacyRequestKind.ACCESS, email=PERSON)
    do_prove_request(access)
    token = make_proof_token(access)
    response = client.get(reverse("privacy:request_file", args=[token]), {"format": "json"})
    assert response.status_code == 200
    assert PERSON_NAME in response.content.decode()
    entry = AuditEntry.objects.get(action=AuditAction.EXPORT)
    assert (entry.actor_id, entry.actor_role, entry.target, entry.tenant_id) == (
        None,
        "subject",
        f"privacy.PrivacyRequest:{access.pk}",
        owner.tenant_id,
    )
    assert entry.details["format"] == "json"
    assert entry.details["kind"] == "access_file"
    assert_names_no_one(PERSON, PERSON_NAME, PERSON_PHONE)


def test_an_erasure_is_recorded_with_counts_only(owner, contacts):
    record = do_erase_person(PERSON, scope=owner.tenant, by=owner)
    entry = AuditEntry.objects.get()
    assert (entry.action, entry.actor_id, entry.target, entry.tenant_id) == (
        "erasure",
        owner.pk,
        f"privacy.ErasureRecord:{record.pk}",
        owner.tenant_id,
    )
    assert entry.details == {"cause": "request", "counts": record.counts}
    assert entry.details["counts"]["audience.Contact"]["deleted"] == 1
    assert_names_no_one(PERSON, PERSON_NAME, PERSON_PHONE)


def test_a_retention_run_is_recorded_and_a_dry_run_is_not(db):
    apply_retention(dry_run=True)
    assert AuditEntry.objects.count() == 0
    counts = apply_retention()
    entry = AuditEntry.objects.get()
    assert (entry.action, entry.actor_id, entry.actor_role, entry.details) == (
        "retention_run",
        None,
        "system",
        {"counts": counts},
    )


INCIDENT = {
    "title": "Export sent to Ariane Quenneville by mistake",
    "data_involved": "Names and addresses",
    "circumstances": "Mailed to the wrong client",
    "occurred_on": date(2026, 3, 2),
    "discovered_on": date(2026, 3, 4),
    "people_affected": 12,
    "serious_injury_risk": False,
    "risk_assessment": "Low",
    "regulator_notified_on": None,
    "people_notified_on": None,
    "measures": "",
}


def test_incident_recorded_edited_and_exported_are_recorded(officer):
    incident = do_record_incident(dict(INCIDENT), by=officer)
    do_update_incident(
        incident, {**INCIDENT, "people_affected": 14, "measures": "Check"}, by=officer
    )
    do_export_register(officer, "csv")
    do_export_register(officer, "json")
    target = f"privacy.ConfidentialityIncident:{incident.pk}"
    assert _trail() == [
        (1, "incident_created", officer.pk, "staff:privacy_officer", target, None),
        (2, "incident_edited", officer.pk, "staff:privacy_officer", target, None),
        (3, "export", officer.pk, "staff:privacy_officer", "privacy.ConfidentialityIncident", None),
        (4, "export", officer.pk, "staff:privacy_officer", "privacy.ConfidentialityIncident", None),
    ]
    assert [e.details for e in AuditEntry.objects.order_by("sequence")] == [
        {"people_affected": 12},
        {"fields_changed": ["measures", "people_affected"]},
        {"format": "csv", "rows": 1},
        {"format": "json", "rows": 1},
    ]
    assert_names_no_one("Ariane Quenneville", "wrong client")
    assert verify_chain().intact
