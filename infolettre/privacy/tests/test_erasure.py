"""Erasure removes a person from every app; only the keyed suppression hash and unlinked counts stay."""

import pytest
from django.core.files.storage import default_storage
from django.urls import reverse
from django.utils import timezone

from conftest import PASSWORD, basic_auth
from infolettre.accounts.actions import do_set_consent
from infolettre.accounts.models import Organisation, User
from infolettre.accounts.tenancy import tenant_scope
from infolettre.audience.actions import (
    do_create_contact,
    do_create_list,
    do_erase_contact,
    do_subscribe,
    do_update_contact,
    suppression_hash,
)
from infolettre.audience.importing import run_import
from infolettre.audience.models import Contact, ContactImport, Subscription, Suppression
from infolettre.audience.tests.test_import_run import start
from infolettre.campaigns.actions import do_launch_campaign
from infolettre.campaigns.models import (
    Bounce,
    BounceKind,
    Campaign,
    Delivery,
    DeliveryStatus,
    SenderAddress,
)
from infolettre.engagement.models import NewsletterSubscriber
from infolettre.messaging.transports import MemoryTransport
from infolettre.privacy import requests as privacy_requests
from infolettre.privacy.audit import SYSTEM
from infolettre.privacy.erasure import do_erase_person
from infolettre.privacy.models import (
    ConsentEvent,
    Disclosure,
    ErasureRecord,
    PrivacyRequest,
    PrivacyRequestKind,
    privacy_request_email_hash,
)
from infolettre.privacy.purposes import NEWSLETTER
from infolettre.privacy.requests import do_prove_request, do_receive_request
from infolettre.privacy.tests.database_search import mentions
from infolettre.staff.testing import sign_in_staff
from infolettre.webhooks.models import WebhookDelivery, WebhookEndpoint, WebhookEvent

EMAIL = "ariane.quenneville@example.com"
NAME = "Ariane Quenneville"
PHONE = "+15145550199"
HTML = "<html><body><p>Bonjour {{ contact.name }}</p>{{ footer }}</body></html>"


def launch(tenant, mailing_list, name="Launch"):
    with tenant_scope(tenant):
        sender, _ = SenderAddress.objects.get_or_create(
            tenant=tenant,
            email="news@example.com",
            defaults={"name": "News Desk", "verified_at": timezone.now()},
        )
        campaign = Campaign.objects.create(
            tenant=tenant, name=name, subject="Hello", sender=sender, html=HTML
        )
        campaign.lists.add(mailing_list)
        do_launch_campaign(campaign)
    return campaign


@pytest.fixture
def provider(settings):
    settings.CAMPAIGN_TRANSPORT_URL = "memory://"
    settings.PROCESSOR_NAMES = {
        "memory": "Courrielleur inc.",
        "mailer:default": "Courrielleur inc.",
    }
    MemoryTransport.outbox = []


@pytest.fixture
def person_everywhere(
    make_client_user, owner, client, provider, django_capture_on_commit_callbacks
):
    """The person as a client user with consents, a contact of two clients (one by import), mailed,
    bounced, corrected, a newsletter subscriber, signed in; and another person beside them."""
    with django_capture_on_commit_callbacks(execute=True):
        user = make_client_user(email=EMAIL, name=NAME, phone=PHONE)
    do_set_consent(user, NEWSLETTER, True, source="test")
    client.force_login(user)
    NewsletterSubscriber.objects.create(email=EMAIL, name=NAME)
    other_client = make_client_user()
    with tenant_scope(owner.tenant):
        news = do_create_list(owner.tenant, name="News")
        contact = do_create_contact(
            owner.tenant, email=EMAIL, name=NAME, phone=PHONE, attributes={"ville": "Laval"}
        )
        do_subscribe(contact, news, source="test")
        neighbour = do_create_contact(owner.tenant, email="voisin@example.com", name="Voisin")
        do_subscribe(neighbour, news, source="test")
    with django_capture_on_commit_callbacks(execute=True):
        campaign = launch(owner.tenant, news)
    with tenant_scope(other_client.tenant):
        offers = do_create_list(other_client.tenant, name="Offers")
    with django_capture_on_commit_callbacks(execute=True):
        imported = start(
            other_client, offers, f"email,name,phone\n{EMAIL},{NAME},{PHONE}\n", encoding="utf-8"
        )
    run_import(imported.pk)
    # A second file whose only row is refused (the phone): the refused row is kept in its report.
    with django_capture_on_commit_callbacks(execute=True):
        refused = start(other_client, offers, f"email,name,phone\n{EMAIL},{NAME},123\n")
    run_import(refused.pk)
    with django_capture_on_commit_callbacks(execute=True):
        other_campaign = launch(other_client.tenant, offers, name="Offers")
    with tenant_scope(other_client.tenant):
        other_contact = Contact.objects.get(email=EMAIL)
        do_update_contact(other_contact, name=NAME + " Junior")
        do_update_contact(other_contact, name=NAME)
    delivery = Delivery.unscoped.get(campaign=other_campaign, email=EMAIL)
    Bounce.unscoped.create(
        tenant=other_client.tenant,
        delivery=delivery,
        email=EMAIL,
        kind=BounceKind.COMPLAINT,
        diagnostic=f"complaint from <{EMAIL}>",
    )
    endpoint = WebhookEndpoint.unscoped.create(
        tenant=owner.tenant, url="https://hooks.example.com/in", events=[], secret="s", active=False
    )
    WebhookDelivery.unscoped.create(
        tenant=owner.tenant,
        endpoint=endpoint,
        event=WebhookEvent.values[0],
        payload={"data": {"email": EMAIL}},
        last_error=f"refused {EMAIL}",
    )
    return {
        "user": user,
        "tenants": [owner.tenant, other_client.tenant],
        "campaigns": [campaign, other_campaign],
        "import": imported,
    }


def test_after_erasure_the_database_holds_nothing_of_the_person_but_the_suppression_hash(
    person_everywhere, django_capture_on_commit_callbacks
):
    """Address, name and phone are gone from every table and the import report quoting them is deleted; each
    client that held the person keeps them suppressed by the keyed hash alone; campaign counts and
    send records stay, unlinked."""
    assert mentions(EMAIL, NAME, PHONE) != []
    assert Disclosure.objects.filter(kind="correction").count() == 2
    report = ContactImport.unscoped.get(rejected_count=1).report.name
    assert default_storage.exists(report)

    with django_capture_on_commit_callbacks(execute=True):
        record = do_erase_person(EMAIL, by=SYSTEM)

    assert mentions(EMAIL, NAME, PHONE, PHONE[2:]) == []
    tenants = person_everywhere["tenants"]
    assert sorted(
        Suppression.unscoped.filter(email_hash=suppression_hash(EMAIL)).values_list(
            "tenant_id", "email"
        )
    ) == sorted([(tenants[0].pk, ""), (tenants[1].pk, "")])
    assert [c.recipient_count for c in Campaign.unscoped.order_by("pk")] == [2, 1]
    assert sorted(Delivery.unscoped.values_list("status", "email")) == [
        (DeliveryStatus.SENT, ""),
        (DeliveryStatus.SENT, ""),
        (DeliveryStatus.SENT, "voisin@example.com"),
    ]
    assert Bounce.unscoped.get().kind == BounceKind.COMPLAINT
    assert list(Contact.unscoped.values_list("email", flat=True)) == ["voisin@example.com"]
    assert Subscription.unscoped.count() == 1
    assert not User.objects.filter(pk=person_everywhere["user"].pk).exists()
    organisation = Organisation.objects.get(pk=person_everywhere["user"].tenant_id)
    assert organisation.closed_at is not None and organisation.name == ""
    assert ConsentEvent.objects.filter(subject_id=0).count() >= 1
    assert ContactImport.unscoped.get(rejected_count=1).report.name == ""
    assert not default_storage.exists(report)
    assert record.counts["audience.Contact"] == {
        "deleted": 2,
        "anonymised": 0,
        "categories": ["contact", "content", "technical"],
    }
    assert record.counts["campaigns.Delivery"]["anonymised"] == 2
    assert record.counts["accounts.User"]["deleted"] == 1
    assert record.counts["webhooks.WebhookDelivery"]["deleted"] == 1
    assert WebhookEndpoint.unscoped.count() == 1
    assert ErasureRecord.objects.count() == 1


def test_an_erased_address_imported_again_is_refused_as_suppressed(
    owner, django_capture_on_commit_callbacks
):
    """After erasure the hash alone blocks the address: an import reports it as suppressed."""
    with tenant_scope(owner.tenant):
        news = do_create_list(owner.tenant, name="News")
        contact = do_create_contact(owner.tenant, email=EMAIL, name=NAME)
        do_subscribe(contact, news, source="test")
    do_erase_person(EMAIL, by=SYSTEM)
    with django_capture_on_commit_callbacks(execute=True):
        imported = start(owner, news, f"email,name\n{EMAIL},{NAME}\n")
    run_import(imported.pk)
    imported.refresh_from_db()
    assert (imported.suppressed_count, imported.created_count) == (1, 0)
    assert Contact.unscoped.count() == 0


def test_a_client_erases_its_contact_through_the_api_and_another_client_keeps_theirs(
    client, owner, make_client_user
):
    """POST /contacts/{id}/erase erases the person for this client only; the same address on
    another client's list stays; that other client's users get 404 and nothing changes."""
    other = make_client_user()
    with tenant_scope(owner.tenant):
        mine = do_create_contact(owner.tenant, email=EMAIL, name=NAME)
    with tenant_scope(other.tenant):
        theirs = do_create_contact(other.tenant, email=EMAIL, name=NAME)

    refused = client.post(f"/api/v1/contacts/{mine.pk}/erase", **basic_auth(other))
    assert refused.status_code == 404
    assert Contact.unscoped.count() == 2

    response = client.post(f"/api/v1/contacts/{mine.pk}/erase", **basic_auth(owner))
    assert response.status_code == 200
    assert response.json()["erased"]["audience.Contact"]["deleted"] == 1
    assert list(Contact.unscoped.values_list("pk", flat=True)) == [theirs.pk]
    assert list(Suppression.unscoped.values_list("tenant_id", "email")) == [(owner.tenant_id, "")]
    assert ErasureRecord.objects.get().tenant_id == owner.tenant_id


def test_the_contact_page_erases_the_contact(client, owner):
    """The button on the contact page erases the person and returns to the contact list."""
    with tenant_scope(owner.tenant):
        contact = do_create_contact(owner.tenant, email=EMAIL, name=NAME)
    client.force_login(owner)
    erase_url = reverse("audience:contact_erase", args=[contact.pk])
    page = client.get(reverse("audience:contact_detail", args=[contact.pk]))
    assert f'action="{erase_url}"' in page.content.decode()
    assert "Effacer cette personne" in page.content.decode()
    response = client.post(erase_url)
    assert response.status_code == 302
    assert Contact.unscoped.count() == 0
    assert Suppression.unscoped.filter(email_hash=suppression_hash(EMAIL)).count() == 1


def test_erasing_one_user_of_a_shared_organisation_leaves_the_organisation(owner, make_member):
    """The company belongs to its other users too: only the erased person's own rows go."""
    member = make_member(owner.tenant, email=EMAIL, name=NAME)
    do_erase_person(EMAIL, by=SYSTEM)
    organisation = Organisation.objects.get(pk=owner.tenant_id)
    assert not User.objects.filter(pk=member.pk).exists()
    assert (organisation.name, organisation.closed_at) != ("", None)
    assert organisation.closed_at is None
    assert User.objects.filter(pk=owner.pk).exists()


# Erasure answering a request: from the privacy officer's desk, or by the client of the contact --


@pytest.fixture
def officer(db):
    return User.objects.create_user(
        "officer@infolettre.example",
        PASSWORD,
        name="Staff privacy",
        title="Staff",
        is_staff=True,
        staff_role="privacy_officer",
    )


def proven_request(kind, email=EMAIL, message=""):
    return do_prove_request(do_receive_request(kind=kind, email=email, message=message))


def test_erase_now_answers_the_request_then_leaves_nothing_of_the_person_but_the_hash(
    person_everywhere, client, officer, mailoutbox, django_capture_on_commit_callbacks
):
    """Erase now on the desk mails the written answer to the person, then erases them everywhere:
    the whole database holds nothing of their address, name or phone but the keyed hashes; the
    request stays closed with its answer (names scrubbed), its address blank and its keyed hash
    kept; an earlier request of theirs is kept the same way; a request never proven is deleted."""
    earlier = proven_request(PrivacyRequestKind.ACCESS)
    erasure = proven_request(
        PrivacyRequestKind.ERASURE, message=f"I am {NAME}, {PHONE}. Erase me, please."
    )
    do_receive_request(kind=PrivacyRequestKind.QUESTION, email=EMAIL, message="Never proven")
    mailoutbox.clear()
    sign_in_staff(client, officer)
    page = client.get(reverse("privacy:desk_request", args=[erasure.pk])).content.decode()
    assert f'action="{reverse("privacy:desk_erase", args=[erasure.pk])}"' in page
    assert "Envoyer la réponse et effacer maintenant" in page

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("privacy:desk_erase", args=[erasure.pk]),
            {"answer": f"Dear {NAME}, everything we held about you is erased."},
        )

    assert response.status_code == 302
    assert [m.to for m in mailoutbox] == [[EMAIL]]
    assert f"Dear {NAME}, everything we held about you is erased." in mailoutbox[0].body
    assert mentions(EMAIL, NAME, PHONE, PHONE[2:]) == []
    erasure.refresh_from_db()
    assert (erasure.status, erasure.email, erasure.answered_by) == ("answered", "", officer)
    assert erasure.closed_at is not None
    assert erasure.email_hash == privacy_request_email_hash(EMAIL)
    assert erasure.answer == "Dear […], everything we held about you is erased."
    assert erasure.message == "I am […], […]. Erase me, please."
    earlier.refresh_from_db()
    assert (earlier.email, earlier.email_hash) == ("", privacy_request_email_hash(EMAIL))
    assert sorted(PrivacyRequest.objects.values_list("pk", flat=True)) == [earlier.pk, erasure.pk]
    assert not User.objects.filter(pk=person_everywhere["user"].pk).exists()
    record = ErasureRecord.objects.get()
    assert record.counts["privacy.PrivacyRequest"] == {
        "deleted": 1,
        "anonymised": 2,
        "categories": ["contact", "content"],
    }


def test_erase_now_without_an_answer_or_for_another_kind_changes_nothing(
    client, officer, owner, mailoutbox
):
    """No answer written, a question instead of an erasure request, or an erasure request never
    proven: nothing is mailed, nothing erased, the request stays as it was."""
    with tenant_scope(owner.tenant):
        do_create_contact(owner.tenant, email=EMAIL, name=NAME)
    erasure = proven_request(PrivacyRequestKind.ERASURE)
    question = proven_request(PrivacyRequestKind.QUESTION, message="What do you hold?")
    unproven = do_receive_request(kind=PrivacyRequestKind.ERASURE, email=EMAIL)
    mailoutbox.clear()
    sign_in_staff(client, officer)
    page = client.get(reverse("privacy:desk_request", args=[question.pk])).content.decode()
    assert reverse("privacy:desk_erase", args=[question.pk]) not in page

    client.post(reverse("privacy:desk_erase", args=[erasure.pk]), {"answer": " "})
    for refused in (question, unproven):
        client.post(reverse("privacy:desk_erase", args=[refused.pk]), {"answer": "Erased."})

    assert mailoutbox == []
    assert Contact.unscoped.count() == 1 and ErasureRecord.objects.count() == 0
    assert sorted(PrivacyRequest.objects.values_list("email", "closed_at")) == [(EMAIL, None)] * 3


def test_erase_now_erases_nothing_when_the_answer_cannot_be_sent(
    owner, officer, monkeypatch, mailoutbox
):
    """The answer goes first: when it cannot be sent, the person is not erased and the request
    stays open."""
    with tenant_scope(owner.tenant):
        do_create_contact(owner.tenant, email=EMAIL, name=NAME)
    erasure = proven_request(PrivacyRequestKind.ERASURE)

    def refuse(*args, **kwargs):
        raise ConnectionRefusedError("mail server down")

    monkeypatch.setattr(privacy_requests, "send_email", refuse)
    with pytest.raises(ConnectionRefusedError):
        privacy_requests.do_erase_for_request(erasure, answer="Erased.", by=officer)
    erasure.refresh_from_db()
    assert (erasure.email, erasure.closed_at) == (EMAIL, None)
    assert Contact.unscoped.get().email == EMAIL


def test_a_client_erasing_its_contact_answers_the_request_on_its_page_and_keeps_no_address(
    client, owner, provider, mailoutbox, django_capture_on_commit_callbacks
):
    """The person, a contact of one client, proved an erasure request that the client's requests
    page shows. The client erases the contact: the person is mailed the client's answer first, then
    nothing of their address, name or phone is left but the keyed hashes; the request stays on the
    client's page, answered, without the address."""
    with tenant_scope(owner.tenant):
        news = do_create_list(owner.tenant, name="News")
        contact = do_create_contact(owner.tenant, email=EMAIL, name=NAME, phone=PHONE)
        do_subscribe(contact, news, source="test")
    with django_capture_on_commit_callbacks(execute=True):
        launch(owner.tenant, news)
    erasure = proven_request(PrivacyRequestKind.ERASURE, message=f"{NAME} here: erase me.")
    assert erasure.tenant_id == owner.tenant_id
    client.force_login(owner)
    page = client.get(reverse("privacy:tenant_requests")).content.decode()
    assert f'id="request-{erasure.pk}"' in page and EMAIL in page
    mailoutbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("audience:contact_erase", args=[contact.pk]))

    assert [m.to for m in mailoutbox] == [[EMAIL]]
    assert f"{owner.tenant.name} a effacé les renseignements qu’il détenait" in mailoutbox[0].body
    assert mentions(EMAIL, NAME, PHONE, PHONE[2:]) == []
    erasure.refresh_from_db()
    assert (erasure.status, erasure.email, erasure.message) == (
        "answered",
        "",
        "[…] here: erase me.",
    )
    assert erasure.email_hash == privacy_request_email_hash(EMAIL)
    assert erasure.closed_at is not None
    page = client.get(reverse("privacy:tenant_requests")).content.decode()
    assert f'id="request-{erasure.pk}"' in page and EMAIL not in page


def test_a_client_erasing_a_contact_known_elsewhere_leaves_the_request_to_the_officer(
    owner, make_client_user, mailoutbox
):
    """The person is also another client's contact: the client's erasure removes only its own
    contact; the request, open and addressed to the privacy officer, keeps its address."""
    other = make_client_user()
    with tenant_scope(owner.tenant):
        mine = do_create_contact(owner.tenant, email=EMAIL, name=NAME)
    with tenant_scope(other.tenant):
        do_create_contact(other.tenant, email=EMAIL, name=NAME)
    erasure = proven_request(PrivacyRequestKind.ERASURE)
    assert erasure.tenant_id is None
    mailoutbox.clear()

    do_erase_contact(mine, by=owner)

    erasure.refresh_from_db()
    assert (erasure.email, erasure.closed_at, erasure.status) == (EMAIL, None, "open")
    assert mailoutbox == []
    assert list(Contact.unscoped.values_list("tenant_id", flat=True)) == [other.tenant_id]
