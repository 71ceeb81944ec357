"""The audit trail is complete: every staff read of confidential data, every export, every role
change, every access grant and every privacy action, done as its user does it, appends exactly the
entries that name it (action, actor, target), and the chain verifies afterwards.

A registry closes the list: every action code is exercised by a test named in COVERAGE (or listed
in NEVER_RECORDED with why), and every route that hands out a file is in EXPORT_ROUTES or in
NOT_EXPORTS; a new code or a new download fails here until its test is written.
"""

import inspect
import io
from datetime import date
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.core.management import CommandError, call_command
from django.test import Client
from django.utils import timezone

from conftest import basic_auth
from infolettre.accounts.actions import do_accept_invitation, do_invite_member, do_set_consent
from infolettre.accounts.models import Role
from infolettre.accounts.tenancy import tenant_scope
from infolettre.audience.actions import do_create_contact, do_create_list, do_subscribe
from infolettre.audience.models import ContactImport, ImportStatus
from infolettre.audience.segments import do_create_segment
from infolettre.engagement.models import NewsletterSubscriber
from infolettre.privacy import encryption
from infolettre.privacy.audit import verify_chain
from infolettre.privacy.incidents import do_record_incident, do_update_incident
from infolettre.privacy.models import (
    AuditAction,
    AuditEntry,
    ConsentEvent,
    PolicyVersion,
    PrivacyRequestKind,
)
from infolettre.privacy.purposes import NEWSLETTER, PURPOSES, Purpose
from infolettre.privacy.requests import do_prove_request, do_receive_request, make_proof_token
from infolettre.privacy.tests.test_audit import assert_names_no_one
from infolettre.privacy.tests.test_encryption import KEY_A, KEY_B
from infolettre.staff.actions import do_grant_access
from infolettre.staff.testing import current_code, make_staff, sign_in_staff
from infolettre.tests.test_attacks import _download_like_routes

pytestmark = pytest.mark.django_db

PERSON = "ariane.quenneville@example.com"
PERSON_NAME = "Ariane Quenneville"
PERSON_PHONE = "+15145550177"
CASE = "CASE-3141"
INCIDENT = {
    "title": "Misdirected e-mail",
    "data_involved": "Addresses",
    "circumstances": "Sent to the wrong list",
    "occurred_on": date(2026, 3, 2),
    "discovered_on": date(2026, 3, 4),
    "people_affected": 12,
    "serious_injury_risk": False,
    "risk_assessment": "Low",
}
NEW_USE = "phone_callbacks"


def mark():
    """The sequence of the last entry: what a test's act appends comes after it."""
    return AuditEntry.objects.order_by("-sequence").values_list("sequence", flat=True).first() or 0


def appended(since):
    """(action, actor id, actor role, target, tenant id) of each entry appended after `since`, in
    order; the whole chain must still verify."""
    report = verify_chain()
    assert report.intact, report.problem
    return list(
        AuditEntry.objects.filter(sequence__gt=since)
        .order_by("sequence")
        .values_list("action", "actor_id", "actor_role", "target", "tenant_id")
    )


def details_since(since):
    return list(
        AuditEntry.objects.filter(sequence__gt=since)
        .order_by("sequence")
        .values_list("details", flat=True)
    )


def staff_client(user):
    client = Client()
    sign_in_staff(client, user)
    return client


def client_of(user):
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def officer(db):
    return make_staff("privacy_officer")


@pytest.fixture
def support(db):
    return make_staff("support")


@pytest.fixture
def administrator(db):
    return make_staff("administrator")


@pytest.fixture
def audience(owner):
    """A list holding one contact with a phone, and a segment of that list."""
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
    return news, segment, contact


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")


def org(owner):
    return f"accounts.Organisation:{owner.tenant_id}"


# Staff reads of confidential data -----------------------------------------------------------------


def test_a_staff_member_opening_a_client_page_is_recorded_as_a_confidential_read(owner, support):
    """The client page shows the company's confidential values masked: the visit is one read."""
    client = staff_client(support)
    before = mark()
    assert client.get(f"/equipe/clients/{owner.tenant_id}/").status_code == 200
    assert appended(before) == [
        ("confidential_read", support.pk, "staff:support", org(owner), owner.tenant_id)
    ]
    assert details_since(before) == [{"page": "client"}]


def test_a_staff_member_opening_a_clients_lists_under_a_grant_is_recorded_with_its_case(
    owner, support, audience
):
    grant = do_grant_access(owner, role="support", days=1, case_reference=CASE)
    client = staff_client(support)
    before = mark()
    assert client.get(f"/equipe/clients/{owner.tenant_id}/listes/").status_code == 200
    assert appended(before) == [
        ("confidential_read", support.pk, "staff:support", org(owner), owner.tenant_id)
    ]
    entry = AuditEntry.objects.get(sequence=before + 1)
    assert (entry.reason, entry.details) == (CASE, {"page": "lists", "grant": grant.pk})
    assert_names_no_one(PERSON, PERSON_NAME, PERSON_PHONE)


def test_a_staff_member_revealing_a_confidential_value_is_recorded_with_the_reason(
    owner, support, audience
):
    """The company's phone and, under a grant, a contact's phone: one reveal entry each, naming
    the object and field, never the value."""
    _news, _segment, contact = audience
    do_grant_access(owner, role="support", days=1, case_reference=CASE)
    client = staff_client(support)
    url = f"/equipe/clients/{owner.tenant_id}/reveler/"
    before = mark()
    for label, pk in (("accounts.Organisation", owner.tenant_id), ("audience.Contact", contact.pk)):
        response = client.post(
            url, {"model": label, "object": pk, "field": "phone", "reason": "Calling back"}
        )
        assert response.status_code == 200
    assert appended(before) == [
        ("reveal", support.pk, "staff:support", org(owner), owner.tenant_id),
        ("reveal", support.pk, "staff:support", f"audience.Contact:{contact.pk}", owner.tenant_id),
    ]
    assert details_since(before) == [{"field": "phone"}, {"field": "phone"}]
    assert_names_no_one(PERSON_PHONE, owner.tenant.phone)


def test_a_reveal_without_a_reason_records_nothing(owner, support):
    client = staff_client(support)
    before = mark()
    response = client.post(
        f"/equipe/clients/{owner.tenant_id}/reveler/",
        {"model": "accounts.Organisation", "object": owner.tenant_id, "field": "phone"},
    )
    assert response.status_code == 400
    assert appended(before) == []


# Exports ------------------------------------------------------------------------------------------


def _list_export(owner, officer, audience, api):
    news = audience[0]
    url = f"/api/v1/lists/{news.pk}/export" if api else f"/listes/{news.pk}/exporter.csv"
    return url, owner, f"audience.MailingList:{news.pk}", owner.tenant_id, {"format": "csv"}


def _segment_export(owner, officer, audience, api):
    segment = audience[1]
    url = f"/api/v1/segments/{segment.pk}/export" if api else f"/segments/{segment.pk}/exporter.csv"
    return url, owner, f"audience.Segment:{segment.pk}", owner.tenant_id, {"format": "csv"}


def _import_report(owner, officer, audience, api):
    with tenant_scope(owner.tenant):
        contact_import = ContactImport.objects.create(
            tenant=owner.tenant,
            mailing_list=audience[0],
            created_by=owner,
            filename="contacts.csv",
            consent_basis="express",
            consent_at=timezone.now(),
            status=ImportStatus.DONE,
            report=ContentFile(f"Ligne,Motif,email\n3,Invalide,{PERSON}\n".encode(), "r.csv"),
        )
    url = (
        f"/api/v1/imports/{contact_import.pk}/report"
        if api
        else f"/importations/{contact_import.pk}/rapport.csv"
    )
    target = f"audience.ContactImport:{contact_import.pk}"
    return url, owner, target, owner.tenant_id, {"format": "csv", "kind": "import_report"}


def _incident_register(export_format):
    def export(owner, officer, audience, api):
        do_record_incident(INCIDENT, by=officer)
        url = f"/equipe/vie-privee/incidents/registre.{export_format}"
        target = "privacy.ConfidentialityIncident"
        return url, officer, target, None, {"format": export_format, "rows": 1}

    return export


def _access_file(owner, officer, audience, api):
    access = do_receive_request(kind=PrivacyRequestKind.ACCESS, email=PERSON)
    do_prove_request(access)
    url = f"/vie-privee/dossier/{make_proof_token(access)}/?format=json"
    target = f"privacy.PrivacyRequest:{access.pk}"
    return url, None, target, owner.tenant_id, {"format": "json", "kind": "access_file"}


# Every route that hands out a file, and how to make it hand one out. A route whose name, path or
# declared content speaks of a file (infolettre/tests/test_attacks.py's rule) must be here or in
# NOT_EXPORTS: test_every_download_route_is_an_audited_export_or_says_why_not fails on a new one.
EXPORT_ROUTES = {
    "web:audience:export_list": lambda *a: _list_export(*a, api=False),
    "api:GET /api/v1/lists/{list_id}/export": lambda *a: _list_export(*a, api=True),
    "web:audience:export_segment": lambda *a: _segment_export(*a, api=False),
    "api:GET /api/v1/segments/{segment_id}/export": lambda *a: _segment_export(*a, api=True),
    "web:audience:import_report": lambda *a: _import_report(*a, api=False),
    "api:GET /api/v1/imports/{import_id}/report": lambda *a: _import_report(*a, api=True),
    "web:privacy:incidents_csv": lambda *a: _incident_register("csv")(*a, api=False),
    "web:privacy:incidents_json": lambda *a: _incident_register("json")(*a, api=False),
    "web:privacy:request_file": lambda *a: _access_file(*a, api=False),
}
NOT_EXPORTS = {
    "web:campaigns:campaign_report": "a campaign's figures per day and per link: nobody's data",
    "web:analytics:daily_report_settings": "the settings page of the daily report e-mail",
    "web:analytics:stop_daily_report": "the daily report e-mail's stop link",
}


def test_every_download_route_is_an_audited_export_or_says_why_not():
    found = set(_download_like_routes())
    assert sorted(found - set(EXPORT_ROUTES) - set(NOT_EXPORTS)) == [], (
        "Add this route to EXPORT_ROUTES (and record its export) or to NOT_EXPORTS in "
        "infolettre/privacy/tests/test_audit_coverage.py"
    )
    assert sorted((set(EXPORT_ROUTES) | set(NOT_EXPORTS)) - found) == []


@pytest.mark.parametrize("route", sorted(EXPORT_ROUTES))
def test_every_export_route_appends_one_export_entry(route, owner, officer, audience, media):
    """Each download, by its route as the user who may use it (the person themselves for their
    access file), appends one export entry naming what was exported, and nothing of its content."""
    url, caller, target, tenant_id, details = EXPORT_ROUTES[route](owner, officer, audience)
    client, headers = Client(), {}
    if caller is not None and caller.is_staff:
        sign_in_staff(client, caller)
    elif caller is not None and route.startswith("api:"):
        headers = basic_auth(caller)
    elif caller is not None:
        client.force_login(caller)
    before = mark()
    response = client.get(url, **headers)
    assert response.status_code == 200, response.content[:300]
    body = b"".join(response.streaming_content) if response.streaming else response.content
    assert PERSON.encode() in body or caller == officer
    if caller is None:
        actor = (None, "subject")
    elif caller.is_staff:
        actor = (caller.pk, f"staff:{caller.staff_role}")
    else:
        actor = (caller.pk, f"client:{caller.role}")
    assert appended(before) == [("export", *actor, target, tenant_id)]
    assert {k: v for k, v in details_since(before)[0].items() if k in details} == details
    assert_names_no_one(PERSON, PERSON_NAME, PERSON_PHONE)


def test_the_access_file_page_and_its_api_are_recorded_as_exports(owner, audience):
    """The access file shown as a page to the person, and given by the API to the signed-in user
    who asked for their own: one export entry each."""
    access = do_receive_request(kind=PrivacyRequestKind.ACCESS, email=PERSON)
    do_prove_request(access)
    before = mark()
    page = Client().get(f"/vie-privee/dossier/{make_proof_token(access)}/")
    assert page.status_code == 200
    response = Client().post(
        "/api/v1/privacy/requests",
        {"kind": "access"},
        content_type="application/json",
        **basic_auth(owner),
    )
    assert response.status_code == 201, response.content[:300]
    own = response.json()["id"]
    assert appended(before) == [
        ("export", None, "subject", f"privacy.PrivacyRequest:{access.pk}", owner.tenant_id),
        (
            "privacy_request_verified",
            owner.pk,
            "client:owner",
            f"privacy.PrivacyRequest:{own}",
            None,
        ),
        ("export", owner.pk, "client:owner", f"privacy.PrivacyRequest:{own}", None),
    ]
    assert [d.get("format") for d in details_since(before)] == ["html", None, "api"]


# Role changes -------------------------------------------------------------------------------------


def test_a_client_owner_changing_a_members_role_is_recorded(owner, make_member):
    member = make_member(owner.tenant)
    client = client_of(owner)
    before = mark()
    response = client.post(f"/equipe/membres/{member.pk}/role/", {"role": Role.OWNER})
    assert response.status_code == 302
    assert appended(before) == [
        ("role_change", owner.pk, "client:owner", f"accounts.User:{member.pk}", owner.tenant_id)
    ]
    assert details_since(before) == [{"from": "member", "to": "owner"}]


def test_a_client_owner_removing_a_member_is_recorded(owner, make_member):
    member = make_member(owner.tenant)
    member_id = member.pk
    client = client_of(owner)
    before = mark()
    assert client.post(f"/equipe/membres/{member_id}/retirer/").status_code == 302
    assert appended(before) == [
        ("member_removal", owner.pk, "client:owner", f"accounts.User:{member_id}", owner.tenant_id)
    ]


def test_an_accepted_invitation_records_the_role_the_inviter_granted(
    owner, django_capture_on_commit_callbacks
):
    """The new member's role is the inviter's grant: recorded as a role change from none, by the
    inviter, when the invited person accepts; the invitation alone grants nothing yet."""
    before = mark()
    with tenant_scope(owner.tenant), django_capture_on_commit_callbacks(execute=False):
        invitation = do_invite_member(owner, "benoit@example.com", Role.MEMBER)
    assert appended(before) == []
    user = do_accept_invitation(
        invitation,
        {"name": "Benoît Gagnon"},
        "a long enough passphrase 42",
        consents={},
        source="t",
    )
    assert appended(before) == [
        ("role_change", owner.pk, "client:owner", f"accounts.User:{user.pk}", owner.tenant_id)
    ]
    assert details_since(before) == [{"from": "", "to": "member", "invitation": invitation.pk}]
    assert_names_no_one("benoit@example.com", "Benoît Gagnon")


def test_an_administrator_changing_a_staff_role_is_recorded(administrator, support):
    client = staff_client(administrator)
    before = mark()
    response = client.post(f"/equipe/personnel/{support.pk}/role/", {"role": "billing"})
    assert response.status_code == 302
    assert appended(before) == [
        (
            "role_change",
            administrator.pk,
            "staff:administrator",
            f"accounts.User:{support.pk}",
            None,
        )
    ]
    assert details_since(before) == [{"from": "support", "to": "billing"}]


def test_creating_a_staff_account_records_its_role_given_by_the_system(db):
    before = mark()
    call_command(
        "create_staff_user",
        "--email=nouveau@infolettre.example",
        "--name=Nouveau",
        "--role=support",
        stdout=io.StringIO(),
    )
    created = AuditEntry.objects.get(sequence=before + 1).target
    assert appended(before) == [("role_change", None, "system", created, None)]
    assert details_since(before) == [{"from": "", "to": "support"}]


# Access grants ------------------------------------------------------------------------------------


def test_a_support_access_grant_and_its_revocation_are_recorded(owner):
    client = client_of(owner)
    before = mark()
    response = client.post(
        "/compte/acces-soutien/", {"case_reference": CASE, "role": "support", "days": "3"}
    )
    assert response.status_code == 302
    (grant_entry,) = appended(before)
    grant_id = int(grant_entry[3].rsplit(":", 1)[1])
    assert grant_entry == (
        "access_grant",
        owner.pk,
        "client:owner",
        f"staff.AccessGrant:{grant_id}",
        owner.tenant_id,
    )
    middle = mark()
    assert client.post(f"/compte/acces-soutien/{grant_id}/revoquer/").status_code == 302
    assert appended(middle) == [
        (
            "access_revoke",
            owner.pk,
            "client:owner",
            f"staff.AccessGrant:{grant_id}",
            owner.tenant_id,
        )
    ]
    assert [e.reason for e in AuditEntry.objects.filter(sequence__gt=before)] == [CASE, CASE]


# Privacy actions: requests and erasure ------------------------------------------------------------


def test_proving_a_request_by_its_link_is_recorded_as_the_persons_act(db):
    question = do_receive_request(kind=PrivacyRequestKind.QUESTION, email=PERSON, message="?")
    before = mark()
    response = Client().get(f"/vie-privee/lien/{make_proof_token(question)}/")
    assert response.status_code == 200
    assert appended(before) == [
        ("privacy_request_verified", None, "subject", f"privacy.PrivacyRequest:{question.pk}", None)
    ]


@pytest.mark.parametrize(
    ("step", "body", "action"),
    [
        ("prolonger", {"notice": "Il nous faut 30 jours."}, "privacy_request_extended"),
        ("repondre", {"answer": "Voici la réponse."}, "privacy_request_answered"),
        ("repondre", {"answer": "Refus motivé.", "outcome": "refused"}, "privacy_request_refused"),
    ],
)
def test_the_officer_extending_answering_or_refusing_a_request_is_recorded(
    officer, step, body, action
):
    question = do_receive_request(kind=PrivacyRequestKind.QUESTION, email=PERSON, message="?")
    do_prove_request(question)
    client = staff_client(officer)
    before = mark()
    response = client.post(f"/equipe/vie-privee/demandes/{question.pk}/{step}/", body)
    assert response.status_code == 302
    assert appended(before) == [
        (action, officer.pk, "staff:privacy_officer", f"privacy.PrivacyRequest:{question.pk}", None)
    ]
    assert_names_no_one(PERSON, body["notice" if step == "prolonger" else "answer"])


def test_the_officer_erasing_for_a_request_records_the_answer_then_the_erasure(
    officer, owner, audience
):
    """The request is the person's at the one client whose contact they are: its answer names that
    client; the erasure, everywhere, names none."""
    erasure = do_prove_request(do_receive_request(kind=PrivacyRequestKind.ERASURE, email=PERSON))
    client = staff_client(officer)
    before = mark()
    response = client.post(
        f"/equipe/vie-privee/demandes/{erasure.pk}/effacer/", {"answer": "Effacé."}
    )
    assert response.status_code == 302
    entries = appended(before)
    record = entries[1][3]
    assert record.startswith("privacy.ErasureRecord:")
    assert entries == [
        (
            "privacy_request_answered",
            officer.pk,
            "staff:privacy_officer",
            f"privacy.PrivacyRequest:{erasure.pk}",
            owner.tenant_id,
        ),
        ("erasure", officer.pk, "staff:privacy_officer", record, None),
    ]
    assert_names_no_one(PERSON, PERSON_NAME, PERSON_PHONE)


def test_a_client_erasing_a_contact_is_recorded(owner, audience):
    contact = audience[2]
    client = client_of(owner)
    before = mark()
    assert client.post(f"/contacts/{contact.pk}/effacer/").status_code == 302
    ((action, actor_id, actor_role, target, tenant_id),) = appended(before)
    assert (action, actor_id, actor_role, tenant_id) == (
        "erasure",
        owner.pk,
        "client:owner",
        owner.tenant_id,
    )
    assert target.startswith("privacy.ErasureRecord:")
    assert details_since(before)[0]["cause"] == "client"
    assert_names_no_one(PERSON, PERSON_NAME, PERSON_PHONE)


def test_a_retention_run_is_recorded_by_the_system_and_a_dry_run_is_not(db):
    before = mark()
    call_command("apply_retention", "--dry-run", stdout=io.StringIO())
    assert appended(before) == []
    call_command("apply_retention", stdout=io.StringIO())
    assert appended(before) == [("retention_run", None, "system", "", None)]


def test_recording_and_editing_an_incident_are_recorded(officer):
    before = mark()
    incident = do_record_incident(INCIDENT, by=officer)
    do_update_incident(incident, {**INCIDENT, "people_affected": 14}, by=officer)
    target = f"privacy.ConfidentialityIncident:{incident.pk}"
    assert appended(before) == [
        ("incident_created", officer.pk, "staff:privacy_officer", target, None),
        ("incident_edited", officer.pk, "staff:privacy_officer", target, None),
    ]
    assert details_since(before)[1] == {"fields_changed": ["people_affected"]}


# Privacy actions: the policy, refusals of a new use, consents -------------------------------------


@pytest.fixture
def new_use(monkeypatch):
    """A use of the organisation's phone (declared confidential) that version 2 adds."""
    purpose = Purpose(
        NEW_USE,
        "Phone callbacks",
        "To call you back about your campaigns at the phone number of your organisation.",
        introduced_in="2",
        uses=("accounts.Organisation.phone",),
    )
    monkeypatch.setitem(PURPOSES, NEW_USE, purpose)
    return purpose


def _publish(tmp_path, *extra):
    (tmp_path / "fr.md").write_text("## Version 2\n\nTexte.", encoding="utf-8")
    (tmp_path / "en.md").write_text("## Version 2\n\nText.", encoding="utf-8")
    call_command(
        "publish_policy",
        "--version=2",
        f"--body-fr={tmp_path / 'fr.md'}",
        f"--body-en={tmp_path / 'en.md'}",
        *extra,
        stdout=io.StringIO(),
    )


def test_publishing_a_policy_version_is_recorded_by_the_system(
    tmp_path, owner, new_use, django_capture_on_commit_callbacks
):
    """Without --by the command acts as the system; a dry run records nothing."""
    before = mark()
    _publish(tmp_path, f"--new-use={NEW_USE}", "--dry-run")
    assert appended(before) == []
    with django_capture_on_commit_callbacks(execute=True):
        _publish(tmp_path, f"--new-use={NEW_USE}")
    policy = PolicyVersion.objects.get(version="2")
    assert appended(before) == [
        ("policy_published", None, "system", f"privacy.PolicyVersion:{policy.pk}", None)
    ]
    assert details_since(before) == [{"version": "2", "new_uses": [NEW_USE], "notices": 1}]


def test_publishing_a_policy_version_names_the_staff_member_given_by_by(
    tmp_path, officer, django_capture_on_commit_callbacks
):
    """--by names the publishing staff account; an address that is no staff account's stops the
    command before anything is published or recorded."""
    before = mark()
    with pytest.raises(CommandError, match="--by names no active staff account"):
        _publish(tmp_path, "--by=nobody@example.com")
    assert (PolicyVersion.objects.filter(version="2").exists(), appended(before)) == (False, [])
    with django_capture_on_commit_callbacks(execute=True):
        _publish(tmp_path, f"--by={officer.email.upper()}")
    policy = PolicyVersion.objects.get(version="2")
    assert appended(before) == [
        (
            "policy_published",
            officer.pk,
            "staff:privacy_officer",
            f"privacy.PolicyVersion:{policy.pk}",
            None,
        )
    ]


def _refusal_path(mailoutbox, email):
    (mail,) = [m for m in mailoutbox if m.to == [email]]
    start = mail.body.index("/vie-privee/refus/")
    return mail.body[start : mail.body.index("/", start + len("/vie-privee/refus/")) + 1]


def test_refusing_a_new_use_by_the_notices_link_is_recorded_as_the_persons_act(
    tmp_path, owner, new_use, mailoutbox, django_capture_on_commit_callbacks
):
    """A client user and a newsletter subscriber refuse by their links: one consent_refusal entry
    each, by the person (SUBJECT), naming them by id; opening the page or refusing twice records
    nothing."""
    reader = NewsletterSubscriber.objects.create(
        email="reader@example.com", name="Reader", confirmed_at=timezone.now()
    )
    with django_capture_on_commit_callbacks(execute=True):
        _publish(tmp_path, f"--new-use={NEW_USE}")
    client = Client()
    before = mark()
    for email in (owner.email, "reader@example.com"):
        path = _refusal_path(mailoutbox, email)
        assert client.get(path).status_code == 200
        assert client.post(path).status_code == 200
        assert client.post(path).status_code == 200
    assert appended(before) == [
        ("consent_refusal", None, "subject", f"accounts.User:{owner.pk}", None),
        ("consent_refusal", None, "subject", f"engagement.NewsletterSubscriber:{reader.pk}", None),
    ]
    events = ConsentEvent.objects.filter(purpose=NEW_USE, given=False).order_by("pk")
    assert details_since(before) == [
        {"purpose": NEW_USE, "version": "2", "consent_event": event.pk} for event in events
    ]
    assert_names_no_one(owner.email, "reader@example.com", "/vie-privee/refus/")


def test_refusing_a_new_use_on_the_consents_page_is_recorded_and_taking_it_back_is_not(
    tmp_path, owner, new_use, django_capture_on_commit_callbacks
):
    """The refusal is a privacy act (the operator may no longer use the value); taking it back is
    the person's answer, proved by the consent ledger like any consent given."""
    with django_capture_on_commit_callbacks(execute=True):
        _publish(tmp_path, f"--new-use={NEW_USE}")
    client = client_of(owner)
    before = mark()
    client.post("/compte/consentements/", {"purpose": NEW_USE, "given": "no"})
    assert appended(before) == [
        ("consent_refusal", None, "subject", f"accounts.User:{owner.pk}", None)
    ]
    after_refusal = mark()
    client.post("/compte/consentements/", {"purpose": NEW_USE, "given": "yes"})
    assert appended(after_refusal) == []
    assert list(
        ConsentEvent.objects.filter(purpose=NEW_USE).order_by("pk").values_list("given", flat=True)
    ) == [False, True]


def test_a_persons_own_consent_withdrawal_is_proved_by_the_consent_ledger_not_the_audit_trail(
    owner,
):
    """Withdrawing consent to the newsletter writes the ledger row the anti-spam law asks for
    (purpose, words shown, source, time) and no audit entry: see the README's audit section."""
    do_set_consent(owner, NEWSLETTER, True, source="test")
    client = client_of(owner)
    before, ledger = mark(), ConsentEvent.objects.count()
    response = client.post("/compte/consentements/", {"purpose": NEWSLETTER.code, "given": "no"})
    assert response.status_code == 302
    assert ConsentEvent.objects.count() == ledger + 1
    assert ConsentEvent.objects.order_by("-pk").values_list("purpose", "given").first() == (
        NEWSLETTER.code,
        False,
    )
    assert appended(before) == []


# Keys and sign-ins --------------------------------------------------------------------------------


def test_re_encrypting_under_a_new_key_is_recorded_with_the_key_id_and_counts(
    settings, make_client_user
):
    """A completed run names the new key by its id and counts per field; a run stopped by a value
    no listed key opens is recorded as not completed (its earlier batches were rewritten)."""
    settings.FIELD_ENCRYPTION_KEYS = [KEY_A]
    make_client_user()
    settings.FIELD_ENCRYPTION_KEYS = [KEY_B, KEY_A]
    key_b = encryption.current_key_id()
    before = mark()
    call_command("reencrypt_fields", stdout=io.StringIO())
    assert appended(before) == [("key_rotation", None, "system", "", None)]
    (details,) = details_since(before)
    assert (details["credential"], details["key"], details["completed"]) == (
        "field_encryption_keys",
        key_b,
        True,
    )
    assert details["fields"]["accounts.Organisation.phone"] == {
        "reencrypted": 1,
        "already_current": 0,
    }
    assert KEY_A not in str(details) and KEY_B not in str(details)

    settings.FIELD_ENCRYPTION_KEYS = [KEY_A]
    stopped = mark()
    with pytest.raises(CommandError):
        call_command("reencrypt_fields", stdout=io.StringIO())
    assert appended(stopped) == [("key_rotation", None, "system", "", None)]
    assert details_since(stopped)[0]["completed"] is False


def test_replacing_recovery_codes_is_recorded_under_its_own_code(support):
    """Not as a key rotation: that code means the encryption keys."""
    client = staff_client(support)
    before = mark()
    assert client.post("/equipe/compte/codes-de-secours/").status_code == 200
    assert appended(before) == [
        (
            "recovery_codes_regenerated",
            support.pk,
            "staff:support",
            f"accounts.User:{support.pk}",
            None,
        )
    ]
    assert details_since(before) == [{"made": 10, "unused_replaced": 0}]


def test_resetting_a_staff_second_factor_is_recorded_by_the_administrator_or_the_system(
    administrator, support
):
    """From the staff list by an administrator, or by the command as the system; the reason is
    kept, a refused attempt (no reason) records nothing."""
    client = staff_client(administrator)
    url = f"/equipe/personnel/{support.pk}/deuxieme-facteur/"
    before = mark()
    assert client.post(url, {"reason": ""}).status_code == 400
    assert appended(before) == []
    assert client.post(url, {"reason": CASE}).status_code == 302
    call_command("reset_staff_second_factor", support.email, "--reason", CASE, stdout=io.StringIO())
    target = f"accounts.User:{support.pk}"
    assert appended(before) == [
        ("second_factor_reset", administrator.pk, "staff:administrator", target, None),
        ("second_factor_reset", None, "system", target, None),
    ]
    assert list(
        AuditEntry.objects.filter(sequence__gt=before).values_list("reason", flat=True)
    ) == [CASE, CASE]


def test_staff_second_factor_passes_and_failures_are_recorded(support):
    from infolettre.staff.actions import do_pass_second_factor
    from infolettre.staff.errors import WrongCode
    from infolettre.staff.testing import confirmed_device

    device = confirmed_device(support)
    before = mark()
    do_pass_second_factor(support, code=current_code(device))
    with pytest.raises(WrongCode):
        do_pass_second_factor(support, code="000000" if current_code(device) != "000000" else "1")
    target = f"accounts.User:{support.pk}"
    assert appended(before) == [
        ("staff_sign_in", support.pk, "staff:support", target, None),
        ("staff_sign_in_failed", support.pk, "staff:support", target, None),
    ]


# The registry -------------------------------------------------------------------------------------

# Which test above performs each action as its user does. A new action code fails
# test_every_audit_action_is_recorded_by_the_product_and_tested_here until it is added.
COVERAGE = {
    AuditAction.CONFIDENTIAL_READ: [
        test_a_staff_member_opening_a_client_page_is_recorded_as_a_confidential_read,
        test_a_staff_member_opening_a_clients_lists_under_a_grant_is_recorded_with_its_case,
    ],
    AuditAction.REVEAL: [
        test_a_staff_member_revealing_a_confidential_value_is_recorded_with_the_reason
    ],
    AuditAction.EXPORT: [
        test_every_export_route_appends_one_export_entry,
        test_the_access_file_page_and_its_api_are_recorded_as_exports,
    ],
    AuditAction.ROLE_CHANGE: [
        test_a_client_owner_changing_a_members_role_is_recorded,
        test_an_accepted_invitation_records_the_role_the_inviter_granted,
        test_an_administrator_changing_a_staff_role_is_recorded,
        test_creating_a_staff_account_records_its_role_given_by_the_system,
    ],
    AuditAction.MEMBER_REMOVAL: [test_a_client_owner_removing_a_member_is_recorded],
    AuditAction.ACCESS_GRANT: [test_a_support_access_grant_and_its_revocation_are_recorded],
    AuditAction.ACCESS_REVOKE: [test_a_support_access_grant_and_its_revocation_are_recorded],
    AuditAction.PRIVACY_REQUEST_VERIFIED: [
        test_proving_a_request_by_its_link_is_recorded_as_the_persons_act
    ],
    AuditAction.PRIVACY_REQUEST_EXTENDED: [
        test_the_officer_extending_answering_or_refusing_a_request_is_recorded
    ],
    AuditAction.PRIVACY_REQUEST_ANSWERED: [
        test_the_officer_extending_answering_or_refusing_a_request_is_recorded,
        test_the_officer_erasing_for_a_request_records_the_answer_then_the_erasure,
    ],
    AuditAction.PRIVACY_REQUEST_REFUSED: [
        test_the_officer_extending_answering_or_refusing_a_request_is_recorded
    ],
    AuditAction.ERASURE: [
        test_the_officer_erasing_for_a_request_records_the_answer_then_the_erasure,
        test_a_client_erasing_a_contact_is_recorded,
    ],
    AuditAction.RETENTION_RUN: [
        test_a_retention_run_is_recorded_by_the_system_and_a_dry_run_is_not
    ],
    AuditAction.INCIDENT_CREATED: [test_recording_and_editing_an_incident_are_recorded],
    AuditAction.INCIDENT_EDITED: [test_recording_and_editing_an_incident_are_recorded],
    AuditAction.CONSENT_REFUSAL: [
        test_refusing_a_new_use_by_the_notices_link_is_recorded_as_the_persons_act,
        test_refusing_a_new_use_on_the_consents_page_is_recorded_and_taking_it_back_is_not,
    ],
    AuditAction.STAFF_SIGN_IN: [test_staff_second_factor_passes_and_failures_are_recorded],
    AuditAction.STAFF_SIGN_IN_FAILED: [test_staff_second_factor_passes_and_failures_are_recorded],
    AuditAction.KEY_ROTATION: [
        test_re_encrypting_under_a_new_key_is_recorded_with_the_key_id_and_counts
    ],
    AuditAction.RECOVERY_CODES_REGENERATED: [
        test_replacing_recovery_codes_is_recorded_under_its_own_code
    ],
    AuditAction.SECOND_FACTOR_RESET: [
        test_resetting_a_staff_second_factor_is_recorded_by_the_administrator_or_the_system
    ],
    AuditAction.POLICY_PUBLISHED: [
        test_publishing_a_policy_version_is_recorded_by_the_system,
        test_publishing_a_policy_version_names_the_staff_member_given_by_by,
    ],
}
# Codes no act records, each with why.
NEVER_RECORDED = {
    AuditAction.PRIVACY_REQUEST_CLOSED: (
        "a request closes by its answer or refusal, or by the erasure of its person, each "
        "recorded under its own code"
    ),
}


def _product_sources():
    root = Path(__file__).resolve().parents[2]
    for path in sorted(root.rglob("*.py")):
        relative = path.relative_to(root.parent).as_posix()
        if "/tests/" not in relative and "/migrations/" not in relative:
            yield relative, path.read_text(encoding="utf-8")


def test_every_audit_action_is_recorded_by_the_product_and_tested_here():
    """Each code is either recorded by some module of the product and performed by a test above
    that checks for it, or listed in NEVER_RECORDED and recorded nowhere."""
    assert set(COVERAGE) | set(NEVER_RECORDED) == set(AuditAction), (
        "Add the new action to COVERAGE with the test that performs it, in "
        "infolettre/privacy/tests/test_audit_coverage.py"
    )
    assert set(COVERAGE) & set(NEVER_RECORDED) == set()
    sources = list(_product_sources())
    for action in AuditAction:
        recorded_in = [name for name, text in sources if f"AuditAction.{action.name}" in text]
        recorded_in = [name for name in recorded_in if name != "infolettre/privacy/models.py"]
        if action in NEVER_RECORDED:
            assert recorded_in == [], f"{action.name} is recorded: move it to COVERAGE"
            continue
        assert recorded_in, f"{action.name} is in COVERAGE but no module records it"
        for test in COVERAGE[action]:
            assert test.__module__ == __name__
            assert f'"{action.value}"' in inspect.getsource(test), (test.__name__, action)
