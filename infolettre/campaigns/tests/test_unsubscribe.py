"""A message's unsubscribe link: GET shows one button, POST (RFC 8058's one click) unsubscribes at once."""

import uuid
from datetime import timedelta

import pytest
import time_machine
from django.test import Client
from django.utils import timezone

from infolettre.accounts.errors import InvalidLink
from infolettre.accounts.tenancy import tenant_scope
from infolettre.audience.actions import (
    do_create_contact,
    do_create_list,
    do_delete_contact,
    do_subscribe,
)
from infolettre.audience.models import Subscription, Suppression
from infolettre.campaigns.models import Campaign, Delivery, DeliveryStatus, SenderAddress
from infolettre.campaigns.unsubscribe import (
    do_unsubscribe_recipient,
    make_token,
    mask_email,
    read_token,
    unsubscribe_url,
)

ONE_CLICK_BODY = "List-Unsubscribe=One-Click"


def make_delivery(tenant, email, *, lists=(), message_id=None, status=DeliveryStatus.SENT):
    """A sent delivery of a new campaign of `tenant` to `email`, subscribed to `lists` (names)."""
    with tenant_scope(tenant):
        sender, _ = SenderAddress.objects.get_or_create(
            tenant=tenant,
            email="news@example.org",
            defaults={"name": "News Desk", "verified_at": timezone.now()},
        )
        campaign = Campaign.objects.create(
            tenant=tenant, name="Janvier", subject="Nouvelles", sender=sender, html="<p>Hi</p>"
        )
        contact = tenant_contact(tenant, email)
        for name in lists:
            mailing_list = tenant_list(tenant, name)
            campaign.lists.add(mailing_list)
            if not contact.subscriptions.filter(mailing_list=mailing_list).exists():
                do_subscribe(contact, mailing_list, source="test")
        return Delivery.objects.create(
            tenant=tenant,
            campaign=campaign,
            contact=contact,
            email=email,
            status=status,
            sent_at=timezone.now() if status == DeliveryStatus.SENT else None,
            message_id=uuid.UUID(message_id) if message_id else uuid.uuid4(),
        )


def tenant_contact(tenant, email):
    from infolettre.audience.models import Contact

    return Contact.objects.filter(email=email).first() or do_create_contact(tenant, email=email)


def tenant_list(tenant, name):
    from infolettre.audience.models import MailingList

    return MailingList.objects.filter(name=name).first() or do_create_list(tenant, name=name)


def snapshot():
    """Every row an unsubscribe may change."""
    return (
        list(Suppression.unscoped.order_by("pk").values()),
        list(Subscription.unscoped.order_by("pk").values()),
        list(Delivery.unscoped.order_by("pk").values()),
    )


def statuses(tenant):
    with tenant_scope(tenant):
        return dict(Subscription.objects.values_list("mailing_list__name", "status").order_by("pk"))


def suppressed(tenant):
    return list(
        Suppression.unscoped.filter(tenant=tenant).values_list("email", "reason").order_by("pk")
    )


@pytest.fixture
def delivery(owner):
    return make_delivery(owner.tenant, "Jeanne.Roy@example.com", lists=["News", "Events"])


@pytest.fixture
def url(delivery):
    return unsubscribe_url(delivery).removeprefix("http://127.0.0.1:8000")


def test_get_shows_one_button_and_does_not_unsubscribe(client, owner, delivery, url):
    """Opening the link (as a mail scanner does) shows the button and changes nothing."""
    before = snapshot()
    response = client.get(url)
    assert response.status_code == 200
    html = response.content.decode()
    assert html.count("<button") == 1
    assert html.count("<form") == 1
    assert f'<form method="post" action="{url}"' in html
    assert owner.tenant.name in html
    assert "J***@example.com" in html
    assert "Jeanne.Roy@example.com" not in html
    assert snapshot() == before


def test_page_sets_no_cookie_and_needs_no_sign_in(client, delivery, url):
    """Neither the page nor the unsubscribe sets a cookie or asks anyone to sign in."""
    assert client.get(url).cookies == {}
    response = client.post(url)
    assert response.status_code == 200
    assert response.cookies == {}
    assert response["Cache-Control"].startswith("max-age=0")
    assert response["Referrer-Policy"] == "no-referrer"


def test_one_click_post_unsubscribes_and_suppresses_at_once(owner, delivery, url):
    """A mailbox provider's POST, form-encoded, without cookie or CSRF token, answers 200 and acts."""
    client = Client(enforce_csrf_checks=True)
    response = client.post(url, ONE_CLICK_BODY, content_type="application/x-www-form-urlencoded")
    assert response.status_code == 200
    assert statuses(owner.tenant) == {"News": "unsubscribed", "Events": "unsubscribed"}
    assert suppressed(owner.tenant) == [("jeanne.roy@example.com", "unsubscribed")]


def test_one_click_post_as_multipart_form_data_unsubscribes(owner, delivery, url):
    """RFC 8058 allows multipart/form-data too."""
    client = Client(enforce_csrf_checks=True)
    response = client.post(url, {"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200
    assert suppressed(owner.tenant) == [("jeanne.roy@example.com", "unsubscribed")]


def test_unsubscribe_post_is_idempotent(owner, delivery, url):
    """A second POST changes nothing and answers the same page."""
    client = Client(enforce_csrf_checks=True)
    first = client.post(url, ONE_CLICK_BODY, content_type="application/x-www-form-urlencoded")
    after_first = snapshot()
    second = client.post(url, ONE_CLICK_BODY, content_type="application/x-www-form-urlencoded")
    assert (first.status_code, second.status_code) == (200, 200)
    assert second.content == first.content
    assert snapshot() == after_first


def test_get_after_unsubscribing_says_so_without_a_button(client, delivery, url):
    """Opening the link again shows that the address is unsubscribed."""
    client.post(url)
    response = client.get(url)
    assert response.status_code == 200
    assert "<button" not in response.content.decode()
    assert response.templates[0].name == "campaigns/unsubscribe_done.html"


def test_only_the_campaigns_lists_are_left_but_the_address_is_suppressed(owner, url, delivery):
    """The person leaves the campaign's lists; their other lists stay, and the suppression covers all."""
    with tenant_scope(owner.tenant):
        contact = tenant_contact(owner.tenant, "Jeanne.Roy@example.com")
        do_subscribe(contact, do_create_list(owner.tenant, name="Other"), source="test")
    Client(enforce_csrf_checks=True).post(url)
    assert statuses(owner.tenant) == {
        "News": "unsubscribed",
        "Events": "unsubscribed",
        "Other": "subscribed",
    }
    assert suppressed(owner.tenant) == [("jeanne.roy@example.com", "unsubscribed")]


def test_unsubscribe_suppresses_for_the_campaigns_tenant_only(make_client_user, owner, url):
    """Another organisation that mails the same person keeps its own subscription."""
    other = make_client_user()
    make_delivery(other.tenant, "Jeanne.Roy@example.com", lists=["News"])
    Client().post(url)
    assert suppressed(other.tenant) == []
    assert statuses(other.tenant) == {"News": "subscribed"}
    assert suppressed(owner.tenant) == [("jeanne.roy@example.com", "unsubscribed")]


def test_a_signed_in_user_of_another_organisation_can_unsubscribe(
    client, make_client_user, owner, url
):
    """The link acts for the message's organisation whoever is signed in on the browser."""
    other = make_client_user()
    client.force_login(other)
    assert client.post(url).status_code == 200
    assert suppressed(owner.tenant) == [("jeanne.roy@example.com", "unsubscribed")]
    assert suppressed(other.tenant) == []


def test_unsubscribe_works_after_the_contact_was_erased(owner, delivery, url):
    """An erased contact's delivery still suppresses its address."""
    with tenant_scope(owner.tenant):
        do_delete_contact(tenant_contact(owner.tenant, "Jeanne.Roy@example.com"))
    delivery.refresh_from_db()
    assert delivery.contact_id is None
    response = Client(enforce_csrf_checks=True).post(url)
    assert response.status_code == 200
    assert suppressed(owner.tenant) == [("jeanne.roy@example.com", "unsubscribed")]


def test_a_contact_added_again_after_erasure_is_unsubscribed_by_address(owner, delivery):
    """When the delivery lost its contact, the contact of the same address leaves the lists."""
    with tenant_scope(owner.tenant):
        contact = tenant_contact(owner.tenant, "Jeanne.Roy@example.com")
        do_delete_contact(contact)
        again = do_create_contact(owner.tenant, email="jeanne.roy@example.com")
        do_subscribe(again, tenant_list(owner.tenant, "News"), source="test")
    delivery.refresh_from_db()
    do_unsubscribe_recipient(delivery, source="page")
    assert statuses(owner.tenant) == {"News": "unsubscribed"}


def test_a_campaign_without_lists_unsubscribes_from_every_list(owner):
    """A campaign sent to every list (none chosen) takes the person off all of them."""
    delivery = make_delivery(owner.tenant, "paul@example.com", lists=["A", "B"])
    with tenant_scope(owner.tenant):
        delivery.campaign.lists.clear()
    do_unsubscribe_recipient(delivery, source="page")
    assert statuses(owner.tenant) == {"A": "unsubscribed", "B": "unsubscribed"}


def test_the_link_still_works_60_days_later(owner, delivery, url):
    """The link keeps working long after the 60 days the law asks for."""
    with time_machine.travel(timezone.now() + timedelta(days=61)):
        assert Client().get(url).status_code == 200
        response = Client(enforce_csrf_checks=True).post(url)
    assert response.status_code == 200
    assert suppressed(owner.tenant) == [("jeanne.roy@example.com", "unsubscribed")]


def test_a_tampered_token_gets_a_clear_page_and_changes_nothing(client, owner, delivery, url):
    """A token altered by one character is refused with 400, and nothing changes."""
    token = make_token(delivery)
    tampered = token[:-1] + ("A" if token[-1] != "A" else "B")
    before = snapshot()
    for method in (client.get, client.post):
        response = method(f"/u/{tampered}/", HTTP_ACCEPT_LANGUAGE="en")
        assert response.status_code == 400
        assert "This unsubscribe link is damaged." in response.content.decode()
        assert response.templates[0].name == "campaigns/unsubscribe_invalid.html"
    assert snapshot() == before


def test_another_message_id_with_the_signature_of_the_first_is_refused(client, delivery):
    """Changing the message id in the token breaks the signature."""
    other = make_delivery(delivery.tenant, "autre@example.com", lists=["News"])
    signature = make_token(delivery).partition(":")[2]
    before = snapshot()
    response = client.post(f"/u/{other.message_id.hex}:{signature}/")
    assert response.status_code == 400
    assert snapshot() == before


def test_a_token_of_a_purged_delivery_is_refused(client, owner, delivery, url):
    """Once the send record is gone, the link says it is no longer valid and changes nothing."""
    Delivery.unscoped.filter(pk=delivery.pk).delete()
    before = snapshot()
    response = client.post(url, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 400
    assert "This unsubscribe link is no longer valid." in response.content.decode()
    assert snapshot() == before


def test_read_token_raises_invalid_link_with_a_code(delivery):
    """The error names a stable code."""
    with pytest.raises(InvalidLink) as caught:
        read_token("garbage")
    assert caught.value.code == "invalid_link"
    assert read_token(make_token(delivery)) == delivery


def test_a_token_never_contains_the_address(delivery):
    """The token carries the random message id and a signature, no part of the address."""
    token = make_token(delivery)
    message_id, _, signature = token.partition(":")
    assert message_id == delivery.message_id.hex
    assert len(signature) == 43
    for part in ("jeanne", "roy", "example", "Jeanne"):
        assert part not in token


def test_the_page_is_in_french_by_default_and_english_on_request(client, delivery, url):
    """French unless the browser prefers English."""
    french = client.get(url).content.decode()
    english = client.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert 'lang="fr"' in french and "Me désabonner" in french
    assert 'lang="en"' in english and "Stop all messages from" in english


def test_other_methods_are_refused(client, url):
    """Only GET, HEAD and POST."""
    assert client.put(url).status_code == 405


def test_mask_email_keeps_the_first_letter_and_the_domain():
    """j***@example.com."""
    assert mask_email("jeanne@example.com") == "j***@example.com"
    assert mask_email("x@example.org") == "x***@example.org"


def test_the_page_seen_again_reads_no_table(client, delivery, url, django_assert_num_queries):
    """The second GET of a link (a person after their mail scanner) is built from the cache."""
    first = client.get(url)
    with django_assert_num_queries(0):
        again = client.get(url)
    assert again.status_code == 200
    assert again.content == first.content
    assert again.templates[0].name == "campaigns/unsubscribe.html"


def test_the_page_after_unsubscribing_reads_no_table(
    delivery, url, django_assert_num_queries, django_capture_on_commit_callbacks
):
    """Once the POST is committed, the page opened again says so without the database."""
    client = Client(enforce_csrf_checks=True)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(url, ONE_CLICK_BODY, content_type="application/x-www-form-urlencoded")
    with django_assert_num_queries(0):
        response = client.get(url)
    assert response.templates[0].name == "campaigns/unsubscribe_done.html"
    assert "<button" not in response.content.decode()


def test_the_one_click_post_is_a_few_statements(owner, url, django_assert_max_num_queries):
    """Leaving two lists at once reads the send record, the two subscriptions, and writes the
    lists, the suppression and the send record: no more than 13 statements, savepoints included."""
    client = Client(enforce_csrf_checks=True)
    with django_assert_max_num_queries(13):
        response = client.post(
            url, ONE_CLICK_BODY, content_type="application/x-www-form-urlencoded"
        )
    assert response.status_code == 200
    assert statuses(owner.tenant) == {"News": "unsubscribed", "Events": "unsubscribed"}


def test_a_suppression_lifted_elsewhere_shows_here_within_a_minute(
    owner, delivery, url, django_capture_on_commit_callbacks
):
    """The page keeps "unsubscribed" for a minute at most: after a suppression is lifted (the
    person rejoined a list), the button is back as soon as the minute is over."""
    client = Client(enforce_csrf_checks=True)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(url)
    Suppression.unscoped.filter(tenant=owner.tenant).delete()
    now = timezone.now()
    with time_machine.travel(now + timedelta(seconds=30)):
        assert client.get(url).templates[0].name == "campaigns/unsubscribe_done.html"
    with time_machine.travel(now + timedelta(seconds=61)):
        assert client.get(url).templates[0].name == "campaigns/unsubscribe.html"


def test_the_organisations_new_name_shows_within_ten_minutes(client, owner, delivery, url):
    """What the page names is kept ten minutes at most, even while the page keeps being opened."""
    assert owner.tenant.name in client.get(url).content.decode()
    type(owner.tenant).objects.filter(pk=owner.tenant.pk).update(name="Nouveau Nom Inc.")
    now = timezone.now()
    for seconds in (120, 240, 360, 480):
        with time_machine.travel(now + timedelta(seconds=seconds)):
            assert owner.tenant.name in client.get(url).content.decode()
    with time_machine.travel(now + timedelta(seconds=601)):
        assert "Nouveau Nom Inc." in client.get(url).content.decode()
