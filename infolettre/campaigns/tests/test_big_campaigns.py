"""A big campaign's counts: exact on its own page, kept a while on the campaigns page; a big
organisation's draft estimate, kept a minute. The threshold of EXACT_BELOW rows is lowered so that
a few rows make them big."""

import datetime
import re

import pytest
import time_machine
from django.urls import reverse

from infolettre import counts
from infolettre.accounts.tenancy import tenant_scope
from infolettre.audience.actions import do_unsubscribe_from_list
from infolettre.audience.models import Subscription
from infolettre.campaigns.campaign_drafts import do_update_campaign
from infolettre.campaigns.campaign_queries import LIVE_SECONDS, SETTLED_SECONDS
from infolettre.campaigns.models import CampaignStatus, Delivery, DeliveryStatus
from infolettre.campaigns.tests.test_campaign_pages import make_audience, make_draft

CAMPAIGNS = reverse("campaigns:campaigns")
NOW = datetime.datetime(2026, 3, 2, 15, 0, tzinfo=datetime.UTC)


@pytest.fixture
def signed_in(client, owner):
    client.force_login(owner)
    return client


def campaign_with(owner, statuses, status):
    news, sender = make_audience(owner, size=0)
    campaign = make_draft(owner, news, sender, status=status, recipient_count=len(statuses))
    with tenant_scope(owner.tenant):
        for n, delivery_status in enumerate(statuses):
            Delivery.objects.create(
                tenant=owner.tenant,
                campaign=campaign,
                email=f"reader{n}@example.com",
                status=delivery_status,
            )
    return campaign


def listed(client, campaign):
    """Recipients, sent, bounced and failed, as the campaigns page shows them ("counting" for
    the figures it shows as being counted)."""
    page = client.get(CAMPAIGNS, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    row = re.search(rf'<tr id="campaign-{campaign.pk}">(.*?)</tr>', page, re.S).group(1)
    figures = [int(n) for n in re.findall(r"<td>(\d+)</td>", row)]
    return figures + (["counting"] if "counting…" in row else [])


def shown(client, campaign):
    page = client.get(reverse("campaigns:campaign_detail", args=[campaign.pk])).content.decode()
    return {
        name: int(re.search(rf'<h2 id="count-{name}">(\d+)</h2>', page).group(1))
        for name in ("recipients", "sent", "queued", "bounced", "failed")
    }


def bounce_one(owner, campaign):
    with tenant_scope(owner.tenant):
        delivery = Delivery.objects.filter(campaign=campaign, status=DeliveryStatus.SENT).first()
        delivery.status = DeliveryStatus.BOUNCED
        delivery.save(update_fields=["status"])


@pytest.mark.django_db
def test_a_big_sent_campaigns_listed_counts_are_kept_five_minutes_its_own_page_is_exact(
    signed_in, owner, monkeypatch
):
    """A bounce reported after the end shows at once on the campaign's page, and on the
    campaigns page once its counts are SETTLED_SECONDS old: the first view past that still shows
    them and counts again once answered, for the next view. The very first view shows them as
    being counted, and counts them once answered."""
    statuses = ["sent"] * 4 + ["skipped", "failed"]
    campaign = campaign_with(owner, statuses, CampaignStatus.SENT)
    monkeypatch.setattr(counts, "EXACT_BELOW", 5)
    with time_machine.travel(NOW, tick=False) as clock:
        before = listed(signed_in, campaign)
        bounce_one(owner, campaign)
        kept = listed(signed_in, campaign)
        own_page = shown(signed_in, campaign)
        clock.shift(datetime.timedelta(seconds=SETTLED_SECONDS + 1))
        past_its_period = listed(signed_in, campaign)
        later = listed(signed_in, campaign)
    assert (before, kept, past_its_period, later) == (
        [6, "counting"],
        [6, 4, 0, 1],
        [6, 4, 0, 1],
        [6, 3, 1, 1],
    )
    assert own_page == {"recipients": 6, "sent": 3, "queued": 0, "bounced": 1, "failed": 1}


@pytest.mark.django_db
def test_a_big_campaign_being_sent_is_listed_with_counts_at_most_seconds_old(
    signed_in, owner, monkeypatch
):
    """While a campaign sends, the campaigns page counts it again after LIVE_SECONDS (once the
    first view past them is answered)."""
    campaign = campaign_with(owner, ["sent"] * 3 + ["queued"] * 3, CampaignStatus.SENDING)
    monkeypatch.setattr(counts, "EXACT_BELOW", 5)
    with time_machine.travel(NOW, tick=False) as clock:
        before = listed(signed_in, campaign)
        with tenant_scope(owner.tenant):
            Delivery.objects.filter(campaign=campaign, status="queued").update(status="sent")
        kept = listed(signed_in, campaign)
        clock.shift(datetime.timedelta(seconds=LIVE_SECONDS + 1))
        past_its_period = listed(signed_in, campaign)
        later = listed(signed_in, campaign)
    assert (before, kept, past_its_period, later) == (
        [6, "counting"],
        [6, 3, 0, 0],
        [6, 3, 0, 0],
        [6, 6, 0, 0],
    )


@pytest.mark.django_db
def test_a_small_campaign_is_counted_at_every_view(signed_in, owner):
    """Below EXACT_BELOW deliveries, the campaigns page shows the counts of the moment."""
    campaign = campaign_with(owner, ["sent"] * 3, CampaignStatus.SENT)
    before = listed(signed_in, campaign)
    bounce_one(owner, campaign)
    assert (before, listed(signed_in, campaign)) == ([3, 3, 0, 0], [3, 2, 1, 0])


def estimate(client, campaign):
    """The number of people the draft's page says it would go to today."""
    page = client.get(
        reverse("campaigns:campaign_detail", args=[campaign.pk]), HTTP_ACCEPT_LANGUAGE="en"
    ).content.decode()
    return int(re.search(r"Today it would go to (\d+) (?:person|people)", page).group(1))


def unsubscribe(owner, news, email):
    with tenant_scope(owner.tenant):
        do_unsubscribe_from_list(Subscription.objects.get(mailing_list=news, contact__email=email))


@pytest.mark.django_db
def test_a_big_organisations_draft_estimate_is_kept_a_minute_unless_the_draft_changes(
    signed_in, owner, monkeypatch
):
    """With EXACT_BELOW contacts or more, "it would go to N people" is counted once a minute,
    however few they are, and at once when the draft changes."""
    news, sender = make_audience(owner, size=4)
    campaign = make_draft(owner, news, sender)
    monkeypatch.setattr(counts, "EXACT_BELOW", 4)
    with time_machine.travel(NOW, tick=False) as clock:
        before = estimate(signed_in, campaign)
        unsubscribe(owner, news, "reader00@example.com")
        kept = estimate(signed_in, campaign)
        clock.shift(datetime.timedelta(seconds=1))
        with tenant_scope(owner.tenant):
            do_update_campaign(campaign, subject="Hello again")
        changed = estimate(signed_in, campaign)
        unsubscribe(owner, news, "reader01@example.com")
        clock.shift(datetime.timedelta(seconds=counts.COUNT_SECONDS + 1))
        past_its_minute = estimate(signed_in, campaign)
        later = estimate(signed_in, campaign)
    assert (before, kept, changed, past_its_minute, later) == (4, 4, 3, 3, 2)


@pytest.mark.django_db
def test_a_small_organisations_draft_estimate_is_exact_at_every_view(signed_in, owner):
    """Below EXACT_BELOW contacts, "it would go to N people" counts the moment."""
    news, sender = make_audience(owner, size=4)
    campaign = make_draft(owner, news, sender)
    before = estimate(signed_in, campaign)
    unsubscribe(owner, news, "reader00@example.com")
    assert (before, estimate(signed_in, campaign)) == (4, 3)


@pytest.mark.django_db
def test_a_big_campaigns_first_report_shows_its_counts_as_being_counted(
    signed_in, owner, monkeypatch
):
    """The very first view of a big campaign's report answers without waiting for its counts:
    they are shown as being counted, and the next view shows them."""
    campaign = campaign_with(owner, ["sent"] * 5 + ["bounced"], CampaignStatus.SENT)
    monkeypatch.setattr(counts, "EXACT_BELOW", 5)
    url = reverse("campaigns:campaign_report", args=[campaign.pk])

    def sent_card():
        page = signed_in.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
        card = re.search(r'<div class="card" id="figure-sent"><h3>([^<]+)</h3>', page).group(1)
        return card, 'id="being-counted"' in page

    assert (sent_card(), sent_card()) == (("counting…", True), ("6", False))
