"""Subscribe, unsubscribe, bounce, complaint and campaign finished reach the endpoints that asked."""

import json
import time
from pathlib import Path

import pytest

from conftest import basic_auth
from infolettre.accounts.tenancy import tenant_scope
from infolettre.audience.actions import (
    do_confirm_subscription,
    do_create_contact,
    do_create_list,
    do_subscribe,
)
from infolettre.audience.models import Subscription
from infolettre.campaigns.actions import do_launch_campaign
from infolettre.campaigns.bounces import process_incoming
from infolettre.campaigns.models import Campaign, SenderAddress
from infolettre.campaigns.pipeline import finish_campaign
from infolettre.campaigns.tests.test_unsubscribe import make_delivery
from infolettre.webhooks.actions import do_create_endpoint
from infolettre.webhooks.events import emit_unsubscribe
from infolettre.webhooks.models import WebhookDelivery
from infolettre.webhooks.signing import verify

SAMPLES = Path(__file__).parents[2] / "campaigns" / "tests" / "samples"
DOMAIN = "bounces.example.com"
POSTFIX_ID = "3f2b8c1e9a4d4e6f8b7a6c5d4e3f2a1b"
ARF_ID = "5e6f7a8b9c0d4e1fa2b3c4d5e6f7a8b9"


@pytest.fixture(autouse=True)
def _bounce_domain(settings):
    settings.BOUNCE_DOMAIN = DOMAIN


def make_endpoint(tenant, url, events):
    with tenant_scope(tenant):
        return do_create_endpoint(tenant, url=url, events=events)


def event_types(receiver):
    return [e["type"] for e in receiver.events()]


def test_a_subscription_reaches_the_endpoint_signed_with_its_secret(
    client, owner, receiver, django_capture_on_commit_callbacks
):
    """An API subscription POSTs one signed JSON event that verifies with the endpoint's secret."""
    endpoint = make_endpoint(owner.tenant, receiver.url, ["subscribe"])
    with tenant_scope(owner.tenant):
        news = do_create_list(owner.tenant, name="News")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            f"/api/v1/lists/{news.pk}/subscriptions",
            {"email": "Lea.Roy@example.com", "consent_source": "shop counter"},
            content_type="application/json",
            **basic_auth(owner),
        )
    assert response.status_code == 201
    subscription = Subscription.unscoped.get()
    [(path, headers, body)] = receiver.requests
    delivery = WebhookDelivery.unscoped.get()
    event = json.loads(body)
    assert path == "/hooks/infolettre"
    assert event == {
        "id": str(delivery.event_id),
        "type": "subscribe",
        "created_at": event["created_at"],
        "data": {
            "list_id": news.pk,
            "contact_id": subscription.contact_id,
            "email": "lea.roy@example.com",
        },
    }
    assert headers["Content-Type"] == "application/json"
    assert headers["Infolettre-Event"] == "subscribe"
    assert headers["Infolettre-Delivery"] == str(delivery.pk)
    timestamp = headers["Infolettre-Timestamp"]
    assert headers["Infolettre-Signature"].startswith(f"t={timestamp},v1=")
    assert verify(endpoint.secret, headers["Infolettre-Signature"], body, now=time.time())
    assert not verify("whsec_another", headers["Infolettre-Signature"], body, now=time.time())
    assert not verify(endpoint.secret, headers["Infolettre-Signature"], body + b" ", time.time())
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("delivered", 1, 200)
    assert delivery.delivered_at is not None


def test_an_unsubscribe_reaches_the_endpoint(
    client, owner, receiver, django_capture_on_commit_callbacks
):
    """Unsubscribing through the API sends an unsubscribe event naming the list and contact."""
    make_endpoint(owner.tenant, receiver.url, ["unsubscribe"])
    with tenant_scope(owner.tenant):
        news = do_create_list(owner.tenant, name="News")
        contact = do_create_contact(owner.tenant, email="marc@example.com")
        subscription = do_subscribe(contact, news, source="test")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.patch(
            f"/api/v1/subscriptions/{subscription.pk}",
            {"status": "unsubscribed"},
            content_type="application/json",
            **basic_auth(owner),
        )
        # Saying it again changes nothing, and tells nothing more.
        client.patch(
            f"/api/v1/subscriptions/{subscription.pk}",
            {"status": "unsubscribed"},
            content_type="application/json",
            **basic_auth(owner),
        )
    assert response.status_code == 200
    assert [e["data"] for e in receiver.events()] == [
        {"list_id": news.pk, "contact_id": contact.pk, "email": "marc@example.com"}
    ]
    assert event_types(receiver) == ["unsubscribe"]


def test_a_double_opt_in_sign_up_is_told_once_confirmed(
    owner, receiver, django_capture_on_commit_callbacks
):
    """An unconfirmed sign-up sends nothing; its confirmation sends the subscribe event."""
    make_endpoint(owner.tenant, receiver.url, ["subscribe"])
    with tenant_scope(owner.tenant), django_capture_on_commit_callbacks(execute=True):
        news = do_create_list(owner.tenant, name="News")
        contact = do_create_contact(owner.tenant, email="ana@example.com")
        subscription = do_subscribe(contact, news, source="form", confirmed=False)
    assert receiver.requests == []
    with tenant_scope(owner.tenant), django_capture_on_commit_callbacks(execute=True):
        do_confirm_subscription(subscription)
    assert event_types(receiver) == ["subscribe"]


def test_a_bounce_reaches_the_endpoint_once(owner, receiver, django_capture_on_commit_callbacks):
    """A hard bounce read by the bounce server sends one bounce event, even if reported twice."""
    make_endpoint(owner.tenant, receiver.url, ["bounce", "complaint"])
    delivery = make_delivery(owner.tenant, "jean.tremblay@example.com", message_id=POSTFIX_ID)
    report = (SAMPLES / "postfix_user_unknown.eml").read_bytes()
    with django_capture_on_commit_callbacks(execute=True):
        process_incoming([f"bounce+{POSTFIX_ID}@{DOMAIN}"], report)
        process_incoming([f"bounce+{POSTFIX_ID}@{DOMAIN}"], report)
    assert event_types(receiver) == ["bounce"]
    assert receiver.events()[0]["data"] == {
        "campaign_id": delivery.campaign_id,
        "contact_id": delivery.contact_id,
        "email": "jean.tremblay@example.com",
        "kind": "hard",
    }


def test_a_complaint_reaches_the_endpoint_once(owner, receiver, django_capture_on_commit_callbacks):
    """An ARF complaint sends one complaint event, even if the feedback loop reports it twice."""
    make_endpoint(owner.tenant, receiver.url, ["complaint"])
    delivery = make_delivery(owner.tenant, "louise.roy@example.com", message_id=ARF_ID)
    report = (SAMPLES / "arf_abuse.eml").read_bytes()
    with django_capture_on_commit_callbacks(execute=True):
        process_incoming([f"fbl@{DOMAIN}"], report)
        process_incoming([f"fbl@{DOMAIN}"], report)
    assert event_types(receiver) == ["complaint"]
    assert receiver.events()[0]["data"] == {
        "campaign_id": delivery.campaign_id,
        "contact_id": delivery.contact_id,
        "email": "louise.roy@example.com",
    }


@pytest.fixture
def campaign(owner, settings, smtp_server):
    settings.CAMPAIGN_TRANSPORT_URL = smtp_server.url
    with tenant_scope(owner.tenant):
        news = do_create_list(owner.tenant, name="News")
        for n in range(3):
            contact = do_create_contact(owner.tenant, email=f"r{n}@example.com")
            do_subscribe(contact, news, source="test")
        sender = SenderAddress.objects.create(
            tenant=owner.tenant,
            email="news@example.com",
            name="News",
            verified_at=owner.date_joined,
        )
        campaign = Campaign.objects.create(
            tenant=owner.tenant,
            name="Launch",
            subject="Hello",
            sender=sender,
            html="<html><body><p>Bonjour</p>{{ footer }}</body></html>",
        )
        campaign.lists.add(news)
    return campaign


def test_a_finished_campaign_reaches_the_endpoint_once_with_its_counts(
    owner, campaign, receiver, smtp_server, django_capture_on_commit_callbacks
):
    """Sending a campaign to the end sends one campaign_finished event with its counts."""
    make_endpoint(owner.tenant, receiver.url, ["campaign_finished"])
    with tenant_scope(owner.tenant), django_capture_on_commit_callbacks(execute=True):
        do_launch_campaign(campaign)
    campaign.refresh_from_db()
    assert (campaign.status, len(smtp_server.messages)) == ("sent", 3)
    with django_capture_on_commit_callbacks(execute=True):
        finish_campaign(campaign)  # another lane finding no work left tells nothing more
    assert event_types(receiver) == ["campaign_finished"]
    assert receiver.events()[0]["data"] == {
        "campaign_id": campaign.pk,
        "finished_at": campaign.finished_at.isoformat(),
        "recipients": 3,
        "sent": 3,
        "bounced": 0,
        "failed": 0,
        "skipped": 0,
    }


def test_an_endpoint_gets_only_the_events_it_chose(
    owner, make_receiver, django_capture_on_commit_callbacks
):
    """An endpoint subscribed to unsubscribe gets nothing when a contact subscribes."""
    chosen, other = make_receiver(), make_receiver()
    make_endpoint(owner.tenant, chosen.url, ["subscribe"])
    make_endpoint(owner.tenant, other.url, ["unsubscribe", "bounce"])
    with tenant_scope(owner.tenant), django_capture_on_commit_callbacks(execute=True):
        contact = do_create_contact(owner.tenant, email="paul@example.com")
        do_subscribe(contact, do_create_list(owner.tenant, name="News"), source="test")
    assert event_types(chosen) == ["subscribe"]
    assert other.requests == []
    assert WebhookDelivery.unscoped.count() == 1


def test_another_organisations_events_never_reach_an_endpoint(
    owner, make_client_user, make_receiver, django_capture_on_commit_callbacks
):
    """Organisation B's subscriptions reach B's endpoint only, never A's."""
    owner_b = make_client_user()
    mine, theirs = make_receiver(), make_receiver()
    make_endpoint(owner.tenant, mine.url, ["subscribe", "unsubscribe"])
    endpoint_b = make_endpoint(owner_b.tenant, theirs.url, ["subscribe"])
    with tenant_scope(owner_b.tenant), django_capture_on_commit_callbacks(execute=True):
        contact = do_create_contact(owner_b.tenant, email="b-reader@example.com")
        do_subscribe(contact, do_create_list(owner_b.tenant, name="B news"), source="test")
    assert mine.requests == []
    assert event_types(theirs) == ["subscribe"]
    assert list(WebhookDelivery.unscoped.values_list("tenant_id", "endpoint_id")) == [
        (owner_b.tenant_id, endpoint_b.pk)
    ]


def test_a_turned_off_endpoint_gets_nothing(owner, receiver, django_capture_on_commit_callbacks):
    """An inactive endpoint is skipped and no delivery is logged for it."""
    endpoint = make_endpoint(owner.tenant, receiver.url, ["subscribe"])
    endpoint.active = False
    endpoint.save()
    with tenant_scope(owner.tenant), django_capture_on_commit_callbacks(execute=True):
        contact = do_create_contact(owner.tenant, email="paul@example.com")
        do_subscribe(contact, do_create_list(owner.tenant, name="News"), source="test")
    assert receiver.requests == []
    assert WebhookDelivery.unscoped.count() == 0


def test_an_organisation_without_endpoints_pays_one_query_per_event(
    owner, django_assert_num_queries
):
    """With no endpoint, an event reads the endpoints once and builds no payload."""
    with tenant_scope(owner.tenant):
        contact = do_create_contact(owner.tenant, email="paul@example.com")
        do_subscribe(contact, do_create_list(owner.tenant, name="News"), source="test")
    subscription = Subscription.unscoped.get()  # its contact is not loaded
    with django_assert_num_queries(1):
        emit_unsubscribe(subscription)
    assert WebhookDelivery.unscoped.count() == 0
