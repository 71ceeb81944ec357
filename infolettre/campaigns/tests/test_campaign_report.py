"""After a campaign, its owner sees exact figures and charts: on a page and at /campaigns/{id}/stats."""

from datetime import UTC, datetime

import pytest
import time_machine

from conftest import basic_auth
from infolettre.accounts.tenancy import tenant_scope
from infolettre.campaigns.actions import do_launch_campaign
from infolettre.campaigns.bounces import do_record_complaint
from infolettre.campaigns.models import CampaignLink, Delivery
from infolettre.campaigns.tests.test_tracking import (
    BROWSER,
    campaign,  # noqa: F401 (a fixture)
    click_paths,
    pixel_path,
    sent_html,
)
from infolettre.campaigns.tracking_actions import do_set_tracking
from infolettre.campaigns.unsubscribe import do_unsubscribe_recipient

SENT_AT = datetime(2026, 3, 10, 14, 20, tzinfo=UTC)
READ_AT = datetime(2026, 3, 10, 14, 35, tzinfo=UTC)


@pytest.fixture
def sent(owner, campaign, smtp_server, client, django_capture_on_commit_callbacks, counting):  # noqa: F811
    """Four recipients, per-recipient counting: one refused at once, two open, one clicks, one
    unsubscribes, one complains, and Apple's proxy loads one image. The report gives the same
    figures whether the hits were written to the tables or counted in Redis first."""
    from infolettre.audience.actions import do_create_contact, do_subscribe

    with tenant_scope(owner.tenant):
        contact = do_create_contact(owner.tenant, email="r3@example.com", name="Reader3")
        do_subscribe(contact, campaign.lists.get(), source="test")
    do_set_tracking(owner, count_opens_and_clicks=True, per_recipient=True)
    smtp_server.replies = {"r3@example.com": "550 No such user"}
    with (
        time_machine.travel(SENT_AT, tick=True),
        tenant_scope(owner.tenant),
        django_capture_on_commit_callbacks(execute=True),
    ):
        do_launch_campaign(campaign)
    with time_machine.travel(READ_AT, tick=True):
        first, _text = sent_html(smtp_server, "r0@example.com")
        second, _text = sent_html(smtp_server, "r1@example.com")
        for html in (first, first, second):
            assert client.get(pixel_path(html), HTTP_USER_AGENT=BROWSER).status_code == 200
        assert client.get(pixel_path(second), REMOTE_ADDR="17.1.2.3").status_code == 200
        assert client.get(click_paths(first)[1], HTTP_USER_AGENT=BROWSER).status_code == 302
        do_unsubscribe_recipient(Delivery.unscoped.get(email="r1@example.com"), source="page")
        do_record_complaint(Delivery.unscoped.get(email="r2@example.com"), "abuse")
    return campaign


def test_stats_api_gives_exact_figures_after_a_send(client, owner, sent):
    response = client.get(f"/api/v1/campaigns/{sent.pk}/stats", **basic_auth(owner))
    assert response.status_code == 200
    links = dict(CampaignLink.unscoped.values_list("url", "pk"))
    assert response.json() == {
        "campaign_id": sent.pk,
        "tracking": "per_recipient",
        "counted": True,
        "recipients": 4,
        "sent": 4,
        "delivered": 3,
        "bounced": 1,
        "failed": 0,
        "unsubscribed": 1,
        "complained": 1,
        "opens": {"people": 3, "machines": 1, "unique": 2},
        "clicks": {"people": 1, "machines": 0, "unique": 1},
        "rates": {
            "delivered": 0.75,
            "bounced": 0.25,
            "opened": 0.6667,
            "clicked": 0.3333,
            "unsubscribed": 0.3333,
            "complained": 0.3333,
        },
        "hourly": [
            {
                "hour": "2026-03-10T14:00:00Z",
                "sent": 3,
                "opens_people": 3,
                "opens_machines": 1,
                "clicks_people": 1,
                "clicks_machines": 0,
            }
        ],
        "links": [
            {
                "id": links["https://example.org/b"],
                "url": "https://example.org/b",
                "clicks_people": 1,
                "clicks_machines": 0,
            },
            {
                "id": links["https://example.org/a?x=1&y=2"],
                "url": "https://example.org/a?x=1&y=2",
                "clicks_people": 0,
                "clicks_machines": 0,
            },
        ],
    }


def test_stats_of_another_tenants_campaign_are_not_found(client, sent, make_client_user):
    stranger = make_client_user()
    response = client.get(f"/api/v1/campaigns/{sent.pk}/stats", **basic_auth(stranger))
    assert (response.status_code, response.json()["code"]) == (404, "not_found")


def test_report_page_shows_figures_and_charts_to_the_owner(client, owner, sent):
    client.force_login(owner)
    detail = client.get(f"/campagnes/{sent.pk}/")
    assert f'href="/campagnes/{sent.pk}/rapport/"' in detail.content.decode()
    response = client.get(f"/campagnes/{sent.pk}/rapport/")
    assert response.status_code == 200
    page = response.content.decode()
    assert '<div class="card" id="figure-sent"><h3>4</h3>' in page
    assert '<div class="card" id="figure-delivered"><h3>3</h3>' in page
    assert '<div class="card" id="figure-opened"><h3>2</h3>' in page
    assert '<div class="card" id="figure-clicked"><h3>1</h3>' in page
    assert '<div class="card" id="figure-unsubscribed"><h3>1</h3>' in page
    assert '<div class="card" id="figure-complained"><h3>1</h3>' in page
    assert page.count('<svg xmlns="http://www.w3.org/2000/svg"') == 3
    assert page.count('role="img"') == 3
    assert "https://example.org/b" in page
    assert 'id="machines"' in page


def test_report_of_a_campaign_that_counted_nothing_says_so(
    client,
    owner,
    campaign,  # noqa: F811 (the fixture)
    smtp_server,
    django_capture_on_commit_callbacks,
):
    with tenant_scope(owner.tenant), django_capture_on_commit_callbacks(execute=True):
        do_launch_campaign(campaign)
    client.force_login(owner)
    page = client.get(f"/campagnes/{campaign.pk}/rapport/").content.decode()
    assert 'id="not-counted"' in page
    assert 'id="figure-opened"' not in page
    assert page.count("<svg") == 1  # messages sent over time only


def test_report_of_another_tenants_campaign_is_not_found(client, sent, make_client_user):
    client.force_login(make_client_user())
    assert client.get(f"/campagnes/{sent.pk}/rapport/").status_code == 404
