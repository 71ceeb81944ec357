"""The privacy officer's desk: due in 30 days, one extension with a notice, answers mailed."""

from datetime import timedelta

import pytest
from django.utils import timezone

from conftest import PASSWORD
from infolettre.accounts.models import User
from infolettre.accounts.tenancy import tenant_scope
from infolettre.audience.actions import do_create_contact
from infolettre.privacy.disclosures import DELIVERY_LOGS_ONLY, record_disclosure
from infolettre.privacy.models import Disclosure, DisclosureKind, PrivacyRequest
from infolettre.privacy.requests import (
    AlreadyExtended,
    ExtensionTooLate,
    do_extend_request,
    do_prove_request,
    do_receive_request,
)
from infolettre.staff.testing import sign_in_staff

ASKER = "asker@example.com"


def _staff(role, email):
    return User.objects.create_user(
        email, PASSWORD, name=f"Staff {role}", title="Staff", is_staff=True, staff_role=role
    )


@pytest.fixture
def officer(db):
    return _staff("privacy_officer", "officer@infolettre.example")


@pytest.fixture
def question(db):
    received = timezone.now() - timedelta(days=3)
    asked = do_receive_request(
        kind="question", email=ASKER, message="What do you hold?", now=received
    )
    return do_prove_request(asked, now=received)


def test_a_request_is_due_30_days_after_receipt(question):
    assert question.due_at - question.received_at == timedelta(days=30)
    assert (question.status, question.closed_at) == ("open", None)


def test_desk_lists_open_requests_with_overdue_ones_in_red(client, officer, question):
    late = do_prove_request(
        do_receive_request(
            kind="complaint",
            email="late@example.com",
            message="No answer",
            now=timezone.now() - timedelta(days=31),
        )
    )
    sign_in_staff(client, officer)
    page = client.get("/equipe/vie-privee/").content.decode()
    assert f'<tr id="request-{late.pk}" class="overdue">' in page
    assert f'<tr id="request-{question.pk}">' in page


def test_officer_takes_the_request(client, officer, question):
    sign_in_staff(client, officer)
    client.post(f"/equipe/vie-privee/demandes/{question.pk}/prendre/")
    question.refresh_from_db()
    assert question.owner == officer


def test_extension_once_with_a_notice_mailed_before_day_30(
    client, officer, question, mailoutbox, django_capture_on_commit_callbacks
):
    sign_in_staff(client, officer)
    due = question.due_at
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            f"/equipe/vie-privee/demandes/{question.pk}/prolonger/",
            {"notice": "We must search our archives."},
        )
        client.post(
            f"/equipe/vie-privee/demandes/{question.pk}/prolonger/", {"notice": "Again, please."}
        )
    assert response.status_code == 302
    question.refresh_from_db()
    assert question.due_at == due + timedelta(days=30)
    assert question.extension_reason == "We must search our archives."
    assert question.extended_at is not None
    assert [m.to for m in mailoutbox] == [[ASKER]]
    assert "We must search our archives." in mailoutbox[0].body


def test_extension_refused_after_day_30_or_twice(officer, question):
    with pytest.raises(ExtensionTooLate):
        do_extend_request(
            question, notice="late", by=officer, now=question.due_at + timedelta(minutes=1)
        )
    do_extend_request(question, notice="first", by=officer)
    with pytest.raises(AlreadyExtended):
        do_extend_request(question, notice="second", by=officer)
    question.refresh_from_db()
    assert question.extension_reason == "first"


def test_answer_is_mailed_and_closes_the_request(
    client, officer, question, mailoutbox, django_capture_on_commit_callbacks
):
    sign_in_staff(client, officer)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            f"/equipe/vie-privee/demandes/{question.pk}/repondre/",
            {"answer": "We hold your address only.", "outcome": "answered"},
        )
    question.refresh_from_db()
    assert (question.status, question.answer) == ("answered", "We hold your address only.")
    assert question.closed_at is not None and question.answered_by == officer
    assert [m.to for m in mailoutbox] == [[ASKER]]
    assert "We hold your address only." in mailoutbox[0].body
    assert not PrivacyRequest.objects.filter(closed_at__isnull=True).exists()


def test_refusal_carries_written_reasons(
    client, officer, question, mailoutbox, django_capture_on_commit_callbacks
):
    sign_in_staff(client, officer)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            f"/equipe/vie-privee/demandes/{question.pk}/repondre/",
            {"answer": "", "outcome": "refused"},
        )
        client.post(
            f"/equipe/vie-privee/demandes/{question.pk}/repondre/",
            {"answer": "It would reveal another person's data.", "outcome": "refused"},
        )
    question.refresh_from_db()
    assert (question.status, question.answer) == (
        "refused",
        "It would reveal another person's data.",
    )
    assert len(mailoutbox) == 1


def test_correction_request_records_the_correction_made(client, officer):
    fix = do_prove_request(
        do_receive_request(kind="correction", email=ASKER, message="My name is Marie")
    )
    sign_in_staff(client, officer)
    client.post(
        f"/equipe/vie-privee/demandes/{fix.pk}/repondre/",
        {"answer": "Corrected.", "correction_done": "Contact name: Mary -> Marie"},
    )
    fix.refresh_from_db()
    assert (fix.status, fix.correction_done) == ("answered", "Contact name: Mary -> Marie")


def test_other_staff_roles_get_403_and_client_users_404(client, owner, question):
    """Staff without the privacy officer role are refused (403); a client user is not even told
    the desk exists (404); nothing changes."""
    support = _staff("support", "support@infolettre.example")
    urls = [
        "/equipe/vie-privee/",
        f"/equipe/vie-privee/demandes/{question.pk}/",
        "/equipe/vie-privee/incidents/",
        "/equipe/vie-privee/incidents/registre.csv",
    ]
    sign_in_staff(client, support)
    assert [client.get(u).status_code for u in urls] == [403] * 4
    assert client.post(f"/equipe/vie-privee/demandes/{question.pk}/prendre/").status_code == 403
    client.force_login(owner)
    assert [client.get(u).status_code for u in urls] == [404] * 4
    client.logout()
    assert client.get(urls[0]).status_code == 302
    question.refresh_from_db()
    assert question.owner is None


def test_a_correction_recorded_on_the_desk_is_passed_on_to_whoever_received_the_data(
    client, officer, owner, make_client_user, django_capture_on_commit_callbacks
):
    """The officer ticks the contact information corrected: each processor that received the
    person's data (here one email provider, for the client's campaign and for an operator message)
    gets the correction, logged once per record of the person (their contact, their account) with
    the categories corrected; the other client, which holds nothing of them, is not concerned."""
    person = make_client_user(email=ASKER, name="Mary")
    with tenant_scope(owner.tenant):
        do_create_contact(owner.tenant, email=ASKER, name="Mary")
    record_disclosure(
        recipient="Courrielleur inc.",
        categories=["contact", "content"],
        purpose="campaign_delivery",
        reason="campaign:1",
        tenant_id=owner.tenant_id,
        email=ASKER,
    )
    record_disclosure(
        recipient="Courrielleur inc.",
        categories=["contact"],
        purpose="account",
        reason="message:account",
        email=ASKER,
    )
    fix = do_prove_request(
        do_receive_request(kind="correction", email=ASKER, message="My name is Marie", user=person)
    )
    sign_in_staff(client, officer)
    page = client.get(f"/equipe/vie-privee/demandes/{fix.pk}/").content.decode()
    assert 'name="corrected" value="contact"' in page
    assert 'value="consent"' not in page

    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            f"/equipe/vie-privee/demandes/{fix.pk}/repondre/",
            {"answer": "Corrected.", "corrected": ["contact", "bogus"]},
        )

    corrections = Disclosure.objects.filter(kind=DisclosureKind.CORRECTION).order_by("reason")
    assert [(d.recipient, d.categories, d.reason, d.tenant_id) for d in corrections] == [
        ("Courrielleur inc.", ["contact"], "correction:accounts.User", None),
        ("Courrielleur inc.", ["contact"], "correction:audience.Contact", owner.tenant_id),
    ]
    assert {d.outcome for d in corrections} == {DELIVERY_LOGS_ONLY}
    fix.refresh_from_db()
    assert fix.status == "answered"


def test_a_refused_correction_or_one_with_no_category_passes_nothing_on(client, officer, owner):
    """Nothing corrected, nothing passed on: the log gets no correction row."""
    with tenant_scope(owner.tenant):
        do_create_contact(owner.tenant, email=ASKER, name="Mary")
    record_disclosure(
        recipient="Courrielleur inc.",
        categories=["contact"],
        purpose="campaign_delivery",
        reason="campaign:1",
        tenant_id=owner.tenant_id,
        email=ASKER,
    )
    refused = do_prove_request(do_receive_request(kind="correction", email=ASKER, message="Fix"))
    silent = do_prove_request(do_receive_request(kind="correction", email=ASKER, message="Fix"))
    sign_in_staff(client, officer)
    client.post(
        f"/equipe/vie-privee/demandes/{refused.pk}/repondre/",
        {"answer": "It is right.", "outcome": "refused", "corrected": ["contact"]},
    )
    client.post(f"/equipe/vie-privee/demandes/{silent.pk}/repondre/", {"answer": "Done."})
    assert not Disclosure.objects.filter(kind=DisclosureKind.CORRECTION).exists()
    assert sorted(PrivacyRequest.objects.values_list("status", flat=True)) == [
        "answered",
        "refused",
    ]
