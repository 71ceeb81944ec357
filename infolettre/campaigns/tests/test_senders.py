"""Sender addresses: each is confirmed from a link mailed to it before a campaign is sent from it."""

import json
import re
from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from conftest import basic_auth
from infolettre.accounts.tenancy import tenant_scope
from infolettre.campaigns.models import Campaign, CampaignStatus, SenderAddress
from infolettre.campaigns.senders import make_sender_token

SENDERS = reverse("campaigns:senders")
LINK = re.compile(r"http://127\.0\.0\.1:8000(/expediteurs/confirmer/[^/\s]+/)")


def call(client, method, url, body=None, user=None):
    data = json.dumps(body) if body is not None else ""
    return client.generic(method, url, data, content_type="application/json", **basic_auth(user))


def sender_rows():
    return list(
        SenderAddress.unscoped.order_by("pk").values("tenant_id", "email", "name", "verified_at")
    )


def make_sender(owner, email="news@example.com", verified=False):
    with tenant_scope(owner.tenant):
        return SenderAddress.objects.create(
            tenant=owner.tenant,
            email=email,
            name="News Desk",
            verified_at=timezone.now() if verified else None,
        )


@pytest.fixture
def signed_in(client, owner):
    client.force_login(owner)
    return client


def add_through_the_page(signed_in, django_capture_on_commit_callbacks, **fields):
    data = {"email": "News@Example.com", "name": "News Desk", **fields}
    with django_capture_on_commit_callbacks(execute=True):
        return signed_in.post(SENDERS, data, HTTP_ACCEPT_LANGUAGE="en")


def test_adding_a_sender_mails_it_a_link_that_names_no_address(
    signed_in, owner, django_capture_on_commit_callbacks
):
    """The new address waits for confirmation; its message carries a link without the address."""
    response = add_through_the_page(signed_in, django_capture_on_commit_callbacks)
    assert (response.status_code, response["Location"]) == (302, SENDERS)
    assert sender_rows() == [
        {
            "tenant_id": owner.tenant_id,
            "email": "news@example.com",
            "name": "News Desk",
            "verified_at": None,
        }
    ]
    [message] = mail.outbox
    assert message.to == ["news@example.com"]
    assert message.extra_headers["X-Infolettre-Kind"] == "account"
    assert owner.tenant.name in message.subject
    path = LINK.search(message.body).group(1)
    assert LINK.search(message.alternatives[0][0]).group(1) == path
    assert "news" not in path.lower() and "example" not in path.lower()


def test_the_link_shows_a_button_and_confirms_only_when_pressed(
    client, owner, django_capture_on_commit_callbacks
):
    """Opening the link changes nothing (mail scanners open links); its button confirms."""
    sender = make_sender(owner)
    path = reverse("campaigns:sender_confirm", args=[make_sender_token(sender)])
    page = client.get(path, HTTP_ACCEPT_LANGUAGE="en")
    assert page.status_code == 200
    assert "Yes, confirm this address" in page.content.decode()
    assert page["Referrer-Policy"] == "no-referrer"
    assert SenderAddress.unscoped.get().verified_at is None
    confirmed = client.post(path, HTTP_ACCEPT_LANGUAGE="en")
    assert confirmed.status_code == 200
    assert "may now send its campaigns from news@example.com" in confirmed.content.decode()
    assert SenderAddress.unscoped.get().verified_at is not None


def test_a_confirmed_link_opened_again_changes_nothing(client, owner):
    sender = make_sender(owner)
    path = reverse("campaigns:sender_confirm", args=[make_sender_token(sender)])
    client.post(path)
    first = SenderAddress.unscoped.get().verified_at
    assert client.post(path).status_code == 200
    assert SenderAddress.unscoped.get().verified_at == first


@pytest.mark.parametrize(
    "tamper",
    [
        lambda token: token[:-2] + ("AA" if not token.endswith("AA") else "BB"),
        lambda token: token.replace(token.split(":")[0], token.split(":")[0][::-1]),
        lambda token: "not-a-token",
    ],
)
def test_a_tampered_link_is_refused_and_confirms_nothing(client, owner, tamper):
    sender = make_sender(owner)
    path = reverse("campaigns:sender_confirm", args=[tamper(make_sender_token(sender))])
    for method in (client.get, client.post):
        response = method(path, HTTP_ACCEPT_LANGUAGE="en")
        assert response.status_code == 400
        assert "This link is invalid or has expired." in response.content.decode()
    assert SenderAddress.unscoped.get().verified_at is None


def test_an_expired_link_is_refused(client, owner, settings):
    sender = make_sender(owner)
    path = reverse("campaigns:sender_confirm", args=[make_sender_token(sender)])
    with time_machine.travel(
        timezone.now() + timedelta(seconds=settings.EMAIL_CONFIRMATION_MAX_AGE + 60)
    ):
        assert client.post(path).status_code == 400
    assert SenderAddress.unscoped.get().verified_at is None


def test_a_link_for_an_address_that_was_replaced_is_refused(client, owner):
    """The link names the address by a digest: another address under the same id does not match."""
    sender = make_sender(owner)
    token = make_sender_token(sender)
    SenderAddress.unscoped.filter(pk=sender.pk).update(email="other@example.com")
    assert client.post(reverse("campaigns:sender_confirm", args=[token])).status_code == 400
    assert SenderAddress.unscoped.get().verified_at is None


def test_an_address_already_confirmed_by_a_member_is_confirmed_at_once(
    signed_in, owner, django_capture_on_commit_callbacks
):
    """The owner's own confirmed address needs no link: it can send at once."""
    response = add_through_the_page(
        signed_in, django_capture_on_commit_callbacks, email=owner.email
    )
    assert response.status_code == 302
    assert SenderAddress.unscoped.get().verified_at is not None
    assert mail.outbox == []


def test_adding_an_unconfirmed_address_again_sends_a_new_link_after_a_few_minutes(
    signed_in, owner, django_capture_on_commit_callbacks
):
    """Asking again at once is refused (no flooding a mailbox); five minutes later a link goes."""
    add_through_the_page(signed_in, django_capture_on_commit_callbacks)
    response = add_through_the_page(signed_in, django_capture_on_commit_callbacks)
    followed = signed_in.get(response["Location"], HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "A link was sent to this address a few minutes ago" in followed
    assert len(mail.outbox) == 1
    with time_machine.travel(timezone.now() + timedelta(minutes=6)):
        add_through_the_page(signed_in, django_capture_on_commit_callbacks, name="Newsroom")
    assert [(r["email"], r["name"]) for r in sender_rows()] == [("news@example.com", "Newsroom")]
    assert [m.to for m in mail.outbox] == [["news@example.com"], ["news@example.com"]]


def test_adding_a_confirmed_address_again_is_refused(
    signed_in, owner, django_capture_on_commit_callbacks
):
    make_sender(owner, verified=True)
    before = sender_rows()
    response = add_through_the_page(signed_in, django_capture_on_commit_callbacks)
    assert response.status_code == 400
    assert "This sender address is already confirmed." in response.content.decode()
    assert (sender_rows(), mail.outbox) == (before, [])


def test_a_wrong_address_or_a_missing_name_is_refused(
    signed_in, owner, django_capture_on_commit_callbacks
):
    response = add_through_the_page(
        signed_in, django_capture_on_commit_callbacks, email="nope", name=""
    )
    page = response.content.decode()
    assert response.status_code == 400
    assert "Enter a valid email address." in page and "This field is required." in page
    assert (sender_rows(), mail.outbox) == ([], [])


def test_an_organisation_without_a_confirmed_address_cannot_add_senders(
    client, make_client_user, django_capture_on_commit_callbacks
):
    unconfirmed = make_client_user(confirmed=False)
    mail.outbox.clear()
    client.force_login(unconfirmed)
    add_through_the_page(client, django_capture_on_commit_callbacks)
    assert (sender_rows(), mail.outbox) == ([], [])


def test_the_senders_page_lists_each_address_with_its_state(signed_in, owner):
    waiting = make_sender(owner, "waiting@example.com")
    ready = make_sender(owner, "ready@example.com", verified=True)
    page = signed_in.get(SENDERS, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    row = re.search(rf'<tr id="sender-{waiting.pk}">(.*?)</tr>', page, re.S).group(1)
    assert "awaiting confirmation" in row and "Send the link again" in row
    row = re.search(rf'<tr id="sender-{ready.pk}">(.*?)</tr>', page, re.S).group(1)
    assert "confirmed" in row and "Send the link again" not in row


def test_deleting_an_unused_sender_removes_it(signed_in, owner):
    sender = make_sender(owner)
    response = signed_in.post(reverse("campaigns:sender_delete", args=[sender.pk]))
    assert response.status_code == 302
    assert sender_rows() == []


def test_a_sender_named_by_a_campaign_cannot_be_deleted(signed_in, owner):
    """A sent campaign keeps its sender; a draft must first be given another one."""
    sender = make_sender(owner, verified=True)
    with tenant_scope(owner.tenant):
        Campaign.objects.create(
            tenant=owner.tenant,
            name="Sent",
            subject="Hi",
            sender=sender,
            html="<p>Hi</p>",
            status=CampaignStatus.SENT,
        )
    before = sender_rows()
    response = signed_in.post(
        reverse("campaigns:sender_delete", args=[sender.pk]), HTTP_ACCEPT_LANGUAGE="en"
    )
    assert response.status_code == 302
    followed = signed_in.get(response["Location"], HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Campaigns use this sender address" in followed
    assert sender_rows() == before


def test_another_organisations_sender_cannot_be_deleted(client, owner, make_client_user):
    sender = make_sender(owner)
    before = sender_rows()
    client.force_login(make_client_user())
    assert client.post(reverse("campaigns:sender_delete", args=[sender.pk])).status_code == 404
    assert sender_rows() == before


# The API -----------------------------------------------------------------------------------------


def test_the_api_adds_a_sender_and_confirms_it_with_the_mailed_token(
    client, owner, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = call(
            client, "POST", "/api/v1/senders", {"email": "News@example.com", "name": "News"}, owner
        )
    body = response.json()
    assert response.status_code == 201
    assert (body["email"], body["name"], body["verified"], body["verified_at"]) == (
        "news@example.com",
        "News",
        False,
        None,
    )
    token = LINK.search(mail.outbox[0].body).group(1).split("/")[-2]
    confirmed = call(client, "POST", "/api/v1/senders/confirm", {"token": token}, owner)
    assert (confirmed.status_code, confirmed.json()["verified"]) == (200, True)
    listed = call(client, "GET", "/api/v1/senders", None, owner).json()
    assert [(s["id"], s["verified"]) for s in listed] == [(body["id"], True)]


def test_the_api_refuses_a_tampered_token_or_another_organisations(client, owner, make_client_user):
    sender = make_sender(owner)
    token = make_sender_token(sender)
    stranger = make_client_user()
    for user, value in ((owner, token[:-3] + "xyz"), (stranger, token)):
        response = call(client, "POST", "/api/v1/senders/confirm", {"token": value}, user)
        assert (response.status_code, response.json()["code"]) == (422, "invalid_link")
    assert SenderAddress.unscoped.get().verified_at is None


def test_the_api_deletes_an_unused_sender_and_refuses_a_used_one(client, owner):
    unused, used = make_sender(owner, "a@example.com"), make_sender(owner, "b@example.com")
    with tenant_scope(owner.tenant):
        Campaign.objects.create(
            tenant=owner.tenant, name="Draft", subject="Hi", sender=used, html="<p>Hi</p>"
        )
    assert call(client, "DELETE", f"/api/v1/senders/{unused.pk}", None, owner).status_code == 204
    response = call(client, "DELETE", f"/api/v1/senders/{used.pk}", None, owner)
    assert (response.status_code, response.json()["code"]) == (409, "sender_in_use")
    assert [r["email"] for r in sender_rows()] == ["b@example.com"]


def test_the_api_does_not_find_another_organisations_sender(client, owner, make_client_user):
    sender = make_sender(owner)
    before = sender_rows()
    response = call(client, "DELETE", f"/api/v1/senders/{sender.pk}", None, make_client_user())
    assert (response.status_code, response.json()["code"]) == (404, "not_found")
    assert sender_rows() == before


def test_the_api_refuses_a_duplicate_confirmed_sender(client, owner):
    make_sender(owner, verified=True)
    response = call(
        client, "POST", "/api/v1/senders", {"email": "news@example.com", "name": "N"}, owner
    )
    assert (response.status_code, response.json()["code"]) == (409, "sender_taken")
