"""A launched campaign reaches every sendable recipient exactly once, with the headers the law asks for."""

import email
from datetime import timedelta
from email.policy import default as default_policy

import pytest
import time_machine
from django.utils import timezone

from infolettre.accounts.tenancy import tenant_scope
from infolettre.audience.actions import do_create_contact, do_create_list, do_subscribe, do_suppress
from infolettre.audience.models import Contact
from infolettre.campaigns.actions import do_launch_campaign
from infolettre.campaigns.models import (
    Campaign,
    CampaignStatus,
    Delivery,
    DeliveryStatus,
    SenderAddress,
)
from infolettre.campaigns.pipeline import run_lane

HTML = "<html><body><p>Bonjour {{ contact.name }}</p>{{ footer }}</body></html>"


@pytest.fixture
def campaign(owner, settings, smtp_server):
    settings.CAMPAIGN_TRANSPORT_URL = smtp_server.url
    with tenant_scope(owner.tenant):
        news = do_create_list(owner.tenant, name="News")
        for n in range(30):
            contact = do_create_contact(owner.tenant, email=f"r{n}@example.com", name=f"Reader {n}")
            do_subscribe(contact, news, source="test")
        sender = SenderAddress.objects.create(
            tenant=owner.tenant,
            email="news@example.com",
            name="News Desk",
            verified_at=owner.date_joined,
        )
        campaign = Campaign.objects.create(
            tenant=owner.tenant,
            name="Launch",
            subject="Hello {{ contact.name }}",
            sender=sender,
            html=HTML,
        )
        campaign.lists.add(news)
    return campaign


def received(smtp_server):
    return sorted(rcpt for _, rcpts, _ in smtp_server.messages for rcpt in rcpts)


def test_every_recipient_receives_one_message(
    owner, campaign, smtp_server, django_capture_on_commit_callbacks
):
    with tenant_scope(owner.tenant), django_capture_on_commit_callbacks(execute=True):
        do_launch_campaign(campaign)
    assert received(smtp_server) == sorted(f"r{n}@example.com" for n in range(30))
    campaign.refresh_from_db()
    assert (campaign.status, campaign.recipient_count) == (CampaignStatus.SENT, 30)
    assert set(Delivery.unscoped.values_list("status", flat=True)) == {DeliveryStatus.SENT}


def test_each_message_carries_one_click_unsubscribe_and_the_sender_footer(
    owner, campaign, smtp_server, django_capture_on_commit_callbacks
):
    with tenant_scope(owner.tenant), django_capture_on_commit_callbacks(execute=True):
        do_launch_campaign(campaign)
    mail_from, rcpts, raw = smtp_server.messages[0]
    message = email.message_from_bytes(raw, policy=default_policy)
    delivery = Delivery.unscoped.get(email=rcpts[0])
    assert mail_from == f"bounce+{delivery.message_id.hex}@bounces.infolettre.local"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message["List-Unsubscribe"].startswith("<http://127.0.0.1:8000/u/")
    assert (
        f"<mailto:unsubscribe+{delivery.message_id.hex}@bounces.infolettre.local>"
        in message["List-Unsubscribe"]
    )
    assert message["Message-ID"] == f"<{delivery.message_id.hex}@bounces.infolettre.local>"
    assert message["Subject"] == f"Hello Reader {rcpts[0][1:].split('@')[0]}"
    html = message.get_body(("html",)).get_content()
    assert owner.tenant.name in html and owner.tenant.address in html


def test_suppressed_and_unsubscribed_people_are_not_queued(
    owner, campaign, smtp_server, django_capture_on_commit_callbacks
):
    do_suppress(owner.tenant, "r1@example.com")
    with tenant_scope(owner.tenant):
        sub = campaign.lists.get().subscriptions.get(contact__email="r2@example.com")
        from infolettre.audience.actions import do_unsubscribe_from_list

        do_unsubscribe_from_list(sub)
        with django_capture_on_commit_callbacks(execute=True):
            do_launch_campaign(campaign)
    assert "r1@example.com" not in received(smtp_server)
    assert "r2@example.com" not in received(smtp_server)
    assert len(received(smtp_server)) == 28


def test_running_a_lane_again_sends_nothing_twice(
    owner, campaign, smtp_server, django_capture_on_commit_callbacks
):
    with tenant_scope(owner.tenant), django_capture_on_commit_callbacks(execute=True):
        do_launch_campaign(campaign)
    Campaign.unscoped.filter(pk=campaign.pk).update(status=CampaignStatus.SENDING)
    run_lane(campaign.pk)
    assert len(received(smtp_server)) == 30


@pytest.mark.parametrize("pipelining", [False, True], ids=["one command at a time", "pipelined"])
def test_a_permanent_refusal_bounces_and_suppresses_a_temporary_one_retries(
    owner, campaign, smtp_server, settings, django_capture_on_commit_callbacks, pipelining
):
    smtp_server.pipelining = pipelining
    smtp_server.replies = {"r3@example.com": "550 No such user", "r4@example.com": "451 Try later"}
    with tenant_scope(owner.tenant), django_capture_on_commit_callbacks(execute=True):
        do_launch_campaign(campaign)
    statuses = dict(Delivery.unscoped.values_list("email", "status"))
    assert (statuses["r3@example.com"], statuses["r4@example.com"]) == ("bounced", "queued")
    from infolettre.audience.models import Suppression

    assert list(Suppression.unscoped.values_list("email", "reason")) == [
        ("r3@example.com", "bounced")
    ]
    assert Delivery.unscoped.get(email="r4@example.com").attempts == 1
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.SENDING


@pytest.mark.parametrize("pipelining", [False, True], ids=["one command at a time", "pipelined"])
def test_a_message_refused_after_its_content_bounces_even_the_last_one(
    owner, campaign, smtp_server, settings, django_capture_on_commit_callbacks, pipelining
):
    """The answer to a message's final dot is read while the next message is built: a refusal
    there still bounces that recipient, the campaign's last one included, and no one else."""
    settings.CAMPAIGN_BATCH_SIZE = 7
    smtp_server.pipelining = pipelining
    smtp_server.data_replies = {
        "r6@example.com": "554 Content rejected",
        "r29@example.com": "550 Mailbox full for good",
    }
    with tenant_scope(owner.tenant), django_capture_on_commit_callbacks(execute=True):
        do_launch_campaign(campaign)
    bounced = Delivery.unscoped.filter(status=DeliveryStatus.BOUNCED)
    assert sorted(bounced.values_list("email", flat=True)) == ["r29@example.com", "r6@example.com"]
    assert Delivery.unscoped.filter(status=DeliveryStatus.SENT).count() == 28
    assert len(received(smtp_server)) == 28
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.SENT


def test_an_unreachable_server_delays_the_campaign_and_loses_nothing(
    owner, campaign, smtp_server, settings, django_capture_on_commit_callbacks
):
    """With the server down nothing is lost; once it is back, each recipient gets one message."""
    settings.CAMPAIGN_TRANSPORT_URL = "smtp://127.0.0.1:1"
    with tenant_scope(owner.tenant), django_capture_on_commit_callbacks(execute=True):
        do_launch_campaign(campaign)
    assert Delivery.unscoped.filter(status=DeliveryStatus.QUEUED).count() == 30
    assert Campaign.unscoped.get(pk=campaign.pk).status == CampaignStatus.SENDING
    settings.CAMPAIGN_TRANSPORT_URL = smtp_server.url
    with time_machine.travel(
        timezone.now() + timedelta(seconds=settings.CAMPAIGN_RETRY_SECONDS + 1)
    ):
        run_lane(campaign.pk)
    assert received(smtp_server) == sorted(f"r{n}@example.com" for n in range(30))
    assert Campaign.unscoped.get(pk=campaign.pk).status == CampaignStatus.SENT


def test_someone_who_unsubscribes_during_sending_gets_nothing_more(
    owner, campaign, smtp_server, settings, django_capture_on_commit_callbacks
):
    """An unsubscribe or a suppression after the launch stops every message not yet sent."""
    settings.CAMPAIGN_TRANSPORT_URL = "smtp://127.0.0.1:1"
    with tenant_scope(owner.tenant), django_capture_on_commit_callbacks(execute=True):
        do_launch_campaign(campaign)
    do_suppress(owner.tenant, "r5@example.com", "unsubscribed")
    settings.CAMPAIGN_TRANSPORT_URL = smtp_server.url
    with time_machine.travel(
        timezone.now() + timedelta(seconds=settings.CAMPAIGN_RETRY_SECONDS + 1)
    ):
        run_lane(campaign.pk)
    assert "r5@example.com" not in received(smtp_server)
    assert len(received(smtp_server)) == 29
    assert Delivery.unscoped.get(email="r5@example.com").status == DeliveryStatus.SKIPPED
    assert Campaign.unscoped.get(pk=campaign.pk).status == CampaignStatus.SENT


def test_a_contact_whose_data_breaks_the_template_fails_alone(
    owner, campaign, smtp_server, django_capture_on_commit_callbacks
):
    """Arithmetic on one contact's text attribute fails that message; everyone else is mailed."""
    Campaign.unscoped.filter(pk=campaign.pk).update(
        html="<p>{{ contact.attributes.seats | round }}</p>{{ footer }}"
    )
    Contact.unscoped.filter(email="r7@example.com").update(attributes={"seats": "many"})
    Contact.unscoped.exclude(email="r7@example.com").update(attributes={"seats": 3})
    with tenant_scope(owner.tenant), django_capture_on_commit_callbacks(execute=True):
        do_launch_campaign(Campaign.unscoped.get(pk=campaign.pk))
    assert len(received(smtp_server)) == 29
    failed = Delivery.unscoped.get(email="r7@example.com")
    assert (failed.status, failed.error.startswith("template: ")) == (DeliveryStatus.FAILED, True)
    assert Campaign.unscoped.get(pk=campaign.pk).status == CampaignStatus.SENT
