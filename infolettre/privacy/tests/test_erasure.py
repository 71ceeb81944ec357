"""Erasure removes a person from every app; only the keyed suppression hash and unlinked counts stay."""

import pytest
from django.core.files.storage import default_storage
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from conftest import basic_auth
from infolettre.accounts.actions import do_set_consent
from infolettre.accounts.models import Organisation, User
from infolettre.accounts.tenancy import tenant_scope
from infolettre.audience.actions import (
    do_create_contact,
    do_create_list,
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
from infolettre.privacy.erasure import do_erase_person
from infolettre.privacy.models import ConsentEvent, Disclosure, ErasureRecord
from infolettre.privacy.purposes import NEWSLETTER
from infolettre.webhooks.models import WebhookDelivery, WebhookEndpoint, WebhookEvent

EMAIL = "ariane.quenneville@example.com"
NAME = "Ariane Quenneville"
PHONE = "+15145550199"
HTML = "<html><body><p>Bonjour {{ contact.name }}</p>{{ footer }}</body></html>"


def database_values():
    """Every non-empty value of every table, as text: (table, column, value)."""
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            columns = [
                c.name for c in connection.introspection.get_table_description(cursor, table)
            ]
            selected = ", ".join(f"CAST({quote(c)} AS TEXT)" for c in columns)
            cursor.execute(f"SELECT {selected} FROM {quote(table)}")  # noqa: S608
            for row in cursor.fetchall():
                for column, value in zip(columns, row, strict=True):
                    if value:
                        yield table, column, str(value)


def mentions(*needles):
    needles = [n.lower() for n in needles]
    return sorted(
        {
            (table, column)
            for table, column, value in database_values()
            if any(n in value.lower() for n in needles)
        }
    )


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
        record = do_erase_person(EMAIL)

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
    do_erase_person(EMAIL)
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
    do_erase_person(EMAIL)
    organisation = Organisation.objects.get(pk=owner.tenant_id)
    assert not User.objects.filter(pk=member.pk).exists()
    assert (organisation.name, organisation.closed_at) != ("", None)
    assert organisation.closed_at is None
    assert User.objects.filter(pk=owner.pk).exists()
