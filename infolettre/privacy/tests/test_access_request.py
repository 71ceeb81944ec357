"""A person gets everything held about their address, after proving it is theirs, and nothing else."""

import json
import re
from datetime import timedelta
from unittest import mock

import pytest
from django.core import signing
from django.utils import timezone

from conftest import PASSWORD, basic_auth, registration_data
from infolettre.accounts.actions import do_register_organisation
from infolettre.audience.actions import do_create_contact, do_create_list, do_subscribe
from infolettre.campaigns.models import SenderAddress
from infolettre.privacy import access
from infolettre.privacy.access import compile_access_file
from infolettre.privacy.declaration import declared_model
from infolettre.privacy.models import PrivacyRequest, privacy_request_email_hash
from infolettre.privacy.requests import (
    PROOF_SALT,
    do_prove_request,
    do_receive_request,
    make_proof_token,
)

PERSON = "marie.tremblay@example.com"
OTHER = "marie.tremblay@example.org"


@pytest.fixture
def on_commit(django_capture_on_commit_callbacks):
    """Run what actions leave for after the commit (the mails), as a real request would."""
    return django_capture_on_commit_callbacks


def _client_user(email, name, consents):
    user = do_register_organisation(
        registration_data(email=email, name=name, company_name=f"{name} Inc."),
        PASSWORD,
        consents=consents,
        source="test:/inscription/",
    )
    user.email_confirmed_at = timezone.now()
    user.save(update_fields=["email_confirmed_at"])
    return user


def _contact(owner, email, name, phone, list_name):
    contact = do_create_contact(owner.tenant, email=email, name=name, phone=phone)
    mailing_list = do_create_list(owner.tenant, name=list_name)
    do_subscribe(contact, mailing_list, source="form:/signup/", wording=f"Yes to {list_name}")
    return contact


@pytest.fixture
def people(make_client_user):
    """Marie is a client user (with consents) and a contact on two other clients' lists; a second
    person with similar data sits beside her everywhere."""
    marie = _client_user(PERSON, "Marie Tremblay", {"newsletter": True})
    other = _client_user(OTHER, "Mario Tremblai", {"newsletter": True, "special_offers": True})
    shop, club = (
        make_client_user(company_name="La Boutique"),
        make_client_user(company_name="Le Club"),
    )
    _contact(shop, PERSON, "Marie T.", "+15145550101", "Boutique news")
    _contact(club, PERSON, "Marie du club", "+15145550102", "Club news")
    _contact(shop, OTHER, "Mario T.", "+15145550199", "Boutique promos")
    return marie, other, shop, club


def _items(access_file, model):
    return [
        (record["client"], item["field"], item["value"])
        for group in access_file["groups"]
        if group["model"] == model
        for record in group["records"]
        for item in record["items"]
    ]


def _group(access_file, model):
    return next(g for g in access_file["groups"] if g["model"] == model)


def test_access_file_lists_every_declared_value_of_the_person_across_apps(people):
    """Account, organisation, consents, both clients' contacts and subscriptions are listed, each
    value with its category, purposes and retention; each contact under its client's name."""
    _marie, _other, _shop, _club = people
    access_file = compile_access_file(PERSON)

    user_items = _items(access_file, "accounts.User")
    mine = "Marie Tremblay Inc."
    assert (mine, "email", PERSON) in user_items
    assert (mine, "name", "Marie Tremblay") in user_items
    assert (mine, "title", "Director") in user_items
    assert {f for _, f, _ in user_items} >= {"email", "name", "title", "language", "date_joined"}
    assert (None, "name", mine) in _items(access_file, "accounts.Organisation")

    contacts = _items(access_file, "audience.Contact")
    assert ("La Boutique", "name", "Marie T.") in contacts
    assert ("La Boutique", "phone", "+15145550101") in contacts
    assert ("Le Club", "name", "Marie du club") in contacts
    assert ("Le Club", "phone", "+15145550102") in contacts
    wordings = {
        v for _, f, v in _items(access_file, "audience.Subscription") if f == "consent_wording"
    }
    assert wordings == {"Yes to Boutique news", "Yes to Club news"}

    consents = _items(access_file, "privacy.ConsentEvent")
    assert [v for _, f, v in consents if f == "purpose"] == ["Bulletin de nouvelles"]
    assert [v for _, f, v in _items(access_file, "privacy.PolicyAcceptance") if f == "source"] == [
        "test:/inscription/"
    ]

    email_item = next(
        item
        for record in _group(access_file, "accounts.User")["records"]
        for item in record["items"]
        if item["field"] == "email"
    )
    assert email_item["category"] == "Coordonnées"
    assert email_item["purposes"] == ["Votre compte", "Connexion", "Avis de service"]
    assert email_item["retention"] == "tant que le compte est ouvert, puis 90 jours"
    consent_item = _group(access_file, "privacy.ConsentEvent")["records"][0]["items"][0]
    occurred = _group(access_file, "privacy.ConsentEvent")["records"][0]
    assert consent_item["retention_end"] == (
        timezone.localdate(timezone.now() + timedelta(days=3 * 365)).isoformat()
    )
    assert occurred["source"] == "Fourni par vous ou enregistré par notre service"
    contact_record = _group(access_file, "audience.Contact")["records"][0]
    assert contact_record["source"] == "Des listes d’envoi de La Boutique"


def test_access_file_holds_nothing_of_another_person(people):
    """None of the second person's values, nor their clients' names, appear anywhere in the file."""
    access_file = compile_access_file(PERSON)
    dumped = json.dumps(access_file, ensure_ascii=False)
    for value in (OTHER, "Mario Tremblai", "Mario T.", "+15145550199", "Boutique promos"):
        assert value not in dumped
    other_events = [v for _, f, v in _items(compile_access_file(OTHER), "privacy.ConsentEvent")]
    assert len(other_events) > len(_items(access_file, "privacy.ConsentEvent"))


def test_password_digest_is_not_given_out(people):
    """A one-way digest tells the person nothing and would help an attacker: it is not shown."""
    marie = people[0]
    dumped = json.dumps(compile_access_file(PERSON), ensure_ascii=False)
    assert marie.password not in dumped
    assert "Conservé sous forme d’empreinte à sens unique ; non affiché." in dumped or (
        "Held as a one-way digest; not shown." in dumped
    )


def test_a_newly_declared_model_appears_with_no_new_code(db, monkeypatch, owner):
    """Whatever model the declaration names is searched by its subject_email_path."""
    SenderAddress.unscoped.create(tenant=owner.tenant, email=PERSON, name="Marie at work")
    entry = declared_model("campaigns.SenderAddress")
    monkeypatch.setattr(access, "declared_models", lambda: [entry])
    access_file = compile_access_file(PERSON)
    assert [g["model"] for g in access_file["groups"]] == ["campaigns.SenderAddress"]
    assert {(f, v) for _, f, v in _items(access_file, "campaigns.SenderAddress")} == {
        ("email", PERSON),
        ("name", "Marie at work"),
    }


def test_disclosures_come_from_the_disclosure_log(db, monkeypatch):
    """The file's disclosure section is what the disclosure log says about the address."""
    when = timezone.now()
    logged = [
        {
            "recipient": "Mail provider",
            "categories": ["contact"],
            "purpose": "campaign_delivery",
            "when": when,
        }
    ]
    monkeypatch.setattr("infolettre.privacy.disclosures.disclosures_for", lambda email: logged)
    assert compile_access_file(PERSON)["disclosures"] == [
        {
            "recipient": "Mail provider",
            "categories": ["contact"],
            "category_labels": ["Coordonnées"],
            "purpose": "campaign_delivery",
            "purpose_label": "Campagnes des clients",
            "when": timezone.localtime(when).isoformat(),
        }
    ]


# Proof of address ---------------------------------------------------------------------------------


def _link(mail):
    return re.search(r"http://[^\s]+/vie-privee/lien/[^\s]+/", mail.body).group(0)


def test_request_form_sends_a_proof_link_and_says_the_same_for_unknown_addresses(
    client, people, mailoutbox, on_commit
):
    """Known or unknown, the page answers the same and the address receives a link; nothing is
    proven or compiled until it is opened."""
    with on_commit(execute=True):
        known = client.post("/vie-privee/acces/", {"email": PERSON})
        unknown = client.post("/vie-privee/acces/", {"email": "nobody@example.net"})
    assert (known.status_code, known.url) == (302, "/vie-privee/demande/envoyee/")
    assert (unknown.status_code, unknown.url) == (302, "/vie-privee/demande/envoyee/")
    assert [m.to for m in mailoutbox] == [[PERSON], ["nobody@example.net"]]
    assert mailoutbox[0].subject == mailoutbox[1].subject
    held = PrivacyRequest.objects.get(email=PERSON)
    assert (held.status, held.verified_at, held.email_hash) == ("awaiting_proof", None, "")
    assert held.due_at == held.received_at + timedelta(days=30)


def test_opening_the_link_proves_the_address_and_shows_the_file(
    client, people, mailoutbox, on_commit
):
    with on_commit(execute=True):
        client.post("/vie-privee/acces/", {"email": PERSON})
    response = client.get(_link(mailoutbox[0]))
    held = PrivacyRequest.objects.get(email=PERSON)
    assert response.status_code == 302
    assert response.url == f"/vie-privee/dossier/{make_proof_token(held)}/"
    assert held.verified_at is not None
    assert held.email_hash == privacy_request_email_hash(PERSON)
    assert (held.status, held.closed_at is not None) == ("answered", True)
    page = client.get(response.url)
    assert page.status_code == 200
    assert "Marie du club" in page.content.decode()
    download = client.get(response.url + "?format=json")
    assert download["Content-Disposition"] == f'attachment; filename="access-file-{held.pk}.json"'
    data = json.loads(download.content)
    assert data["subject"] == {"email": PERSON}
    assert ("Le Club", "phone", "+15145550102") in _items(data, "audience.Contact")


def test_tampered_or_expired_links_are_refused_and_nothing_is_compiled(
    client, people, mailoutbox, on_commit
):
    with on_commit(execute=True):
        client.post("/vie-privee/acces/", {"email": PERSON})
    link = _link(mailoutbox[0])
    tampered = link[:-3] + ("A" if link[-3] != "A" else "B") + link[-2:]
    with mock.patch("infolettre.privacy.access.compile_access_file") as compiled:
        assert client.get(tampered).status_code == 400
        token = link.rstrip("/").rsplit("/", 1)[1]
        assert client.get(f"/vie-privee/dossier/{token}x/").status_code == 400
        later = timezone.now() + timedelta(days=8)
        with mock.patch("django.core.signing.time.time", return_value=later.timestamp()):
            assert client.get(link).status_code == 400
        compiled.assert_not_called()
    held = PrivacyRequest.objects.get(email=PERSON)
    assert (held.status, held.verified_at) == ("awaiting_proof", None)


def test_a_link_for_another_address_does_not_open_the_request(client, people):
    """A token naming the request but signed for a different address is refused."""
    asked = do_receive_request(kind="access", email=PERSON)
    forged = signing.dumps({"i": asked.pk, "a": "0" * 16}, salt=PROOF_SALT)
    assert client.get(f"/vie-privee/lien/{forged}/").status_code == 400
    asked.refresh_from_db()
    assert asked.verified_at is None


def test_public_requests_are_rate_limited_per_network(db, client, mailoutbox, on_commit):
    with on_commit(execute=True):
        for n in range(10):
            sent = client.post("/vie-privee/acces/", {"email": f"p{n}@example.com"})
            assert sent.status_code == 302
        refused = client.post("/vie-privee/acces/", {"email": "p11@example.com"})
    assert refused.status_code == 429
    assert len(mailoutbox) == 10
    assert not PrivacyRequest.objects.filter(email="p11@example.com").exists()


def test_general_form_takes_every_kind_and_says_where_to_correct_oneself(db, client, mailoutbox):
    page = client.get("/vie-privee/demande/").content.decode()
    for kind in ("access", "correction", "erasure", "question", "complaint"):
        assert f'value="{kind}"' in page
    assert "centre de préférences" in page
    response = client.post(
        "/vie-privee/demande/",
        {"email": PERSON, "kind": "correction", "message": "My name is Marie, not Mary."},
    )
    assert response.status_code == 302
    held = PrivacyRequest.objects.get()
    assert (held.kind, held.message) == ("correction", "My name is Marie, not Mary.")
    assert (
        client.post("/vie-privee/demande/", {"email": PERSON, "kind": "complaint"}).status_code
        == 400
    )


def test_footer_links_to_the_request_form(client, db):
    assert 'href="/vie-privee/demande/"' in client.get("/vie-privee/acces/").content.decode()


# API ----------------------------------------------------------------------------------------------


def test_api_anonymous_request_mails_a_proof_then_the_token_reads_the_file(
    client, people, mailoutbox, on_commit
):
    with on_commit(execute=True):
        response = client.post(
            "/api/v1/privacy/requests",
            {"kind": "access", "email": PERSON},
            content_type="application/json",
        )
    assert response.status_code == 202
    assert response.json()["code"] == "proof_sent"
    held = PrivacyRequest.objects.get(email=PERSON)
    assert client.get(f"/api/v1/privacy/requests/{held.pk}").status_code == 404
    token = _link(mailoutbox[0]).rstrip("/").rsplit("/", 1)[1]
    pending = client.get(f"/api/v1/privacy/requests/{held.pk}?token={token}").json()
    assert (pending["status"], pending["proven"], pending["file"]) == (
        "awaiting_proof",
        False,
        None,
    )
    do_prove_request(held)
    ready = client.get(f"/api/v1/privacy/requests/{held.pk}?token={token}").json()
    assert (ready["status"], ready["proven"]) == ("answered", True)
    assert ("La Boutique", "name", "Marie T.") in _items(ready["file"], "audience.Contact")


def test_api_client_user_gets_their_own_file_at_once_and_no_one_else_reads_it(
    client, people, mailoutbox
):
    marie, other, _shop, _club = people
    response = client.post(
        "/api/v1/privacy/requests",
        {"kind": "access"},
        content_type="application/json",
        **basic_auth(marie),
    )
    assert response.status_code == 201
    body = response.json()
    assert (body["status"], body["proven"]) == ("answered", True)
    assert ("Marie Tremblay Inc.", "email", PERSON) in _items(body["file"], "accounts.User")
    assert mailoutbox == []
    mine = client.get(f"/api/v1/privacy/requests/{body['id']}", **basic_auth(marie))
    assert mine.status_code == 200
    theirs = client.get(f"/api/v1/privacy/requests/{body['id']}", **basic_auth(other))
    assert (theirs.status_code, theirs.json()["code"]) == (404, "not_found")


def test_api_client_user_asking_about_another_address_must_prove_it(
    client, people, mailoutbox, on_commit
):
    marie = people[0]
    with on_commit(execute=True):
        response = client.post(
            "/api/v1/privacy/requests",
            {"kind": "access", "email": OTHER},
            content_type="application/json",
            **basic_auth(marie),
        )
    assert response.status_code == 202
    assert [m.to for m in mailoutbox] == [[OTHER]]
    assert PrivacyRequest.objects.get(email=OTHER).verified_at is None


# The client's page -------------------------------------------------------------------------------


def test_client_sees_requests_about_its_contacts_only(client, people, make_client_user):
    _marie, _other, shop, _club = people
    stranger = make_client_user(company_name="Ailleurs")
    do_create_contact(stranger.tenant, email="elsewhere@example.com", name="Elsewhere")
    about_marie = do_prove_request(do_receive_request(kind="question", email=PERSON, message="Q1"))
    about_other = do_prove_request(do_receive_request(kind="question", email=OTHER, message="Q2"))
    elsewhere = do_prove_request(
        do_receive_request(kind="question", email="elsewhere@example.com", message="Q3")
    )
    unproven = do_receive_request(kind="question", email=PERSON, message="Q4")

    client.force_login(shop)
    page = client.get("/vie-privee/demandes/").content.decode()
    assert f'id="request-{about_marie.pk}"' in page
    assert f'id="request-{about_other.pk}"' in page
    assert f'id="request-{elsewhere.pk}"' not in page
    assert f'id="request-{unproven.pk}"' not in page

    client.force_login(stranger)
    page = client.get("/vie-privee/demandes/").content.decode()
    assert f'id="request-{elsewhere.pk}"' in page
    assert f'id="request-{about_marie.pk}"' not in page


def test_client_answers_a_request_addressed_to_it_alone(client, people, mailoutbox, on_commit):
    """Mario is a contact of the shop only: the shop answers; Marie is on two clients' lists:
    the privacy officer answers for both, the shop cannot."""
    _marie, _other, shop, _club = people
    about_other = do_prove_request(do_receive_request(kind="question", email=OTHER, message="Q"))
    about_marie = do_prove_request(do_receive_request(kind="question", email=PERSON, message="Q"))
    assert (about_other.tenant, about_marie.tenant) == (shop.tenant, None)
    client.force_login(shop)
    with on_commit(execute=True):
        client.post(f"/vie-privee/demandes/{about_marie.pk}/repondre/", {"answer": "No."})
        response = client.post(
            f"/vie-privee/demandes/{about_other.pk}/repondre/",
            {"answer": "We only keep your name."},
        )
    assert response.status_code == 302
    about_other.refresh_from_db()
    about_marie.refresh_from_db()
    assert (about_other.status, about_other.answer) == ("answered", "We only keep your name.")
    assert about_other.answered_by == shop
    assert (about_marie.status, about_marie.answer) == ("open", "")
    assert [m.to for m in mailoutbox] == [[OTHER]]
    assert "We only keep your name." in mailoutbox[0].body
