"""Opens and clicks are counted only when the organisation says so, naming no one unless it asks to,
storing no IP address or user agent, and a click redirect leads only to an address of the campaign."""

import email
import re
from datetime import timedelta
from email.policy import default as default_policy

import pytest
from django.core import signing
from django.db import connection
from django.utils import timezone

from conftest import basic_auth
from infolettre.accounts.tenancy import tenant_scope
from infolettre.audience.actions import do_create_contact, do_create_list, do_subscribe
from infolettre.audience.models import Contact
from infolettre.campaigns.actions import do_launch_campaign
from infolettre.campaigns.models import (
    Campaign,
    CampaignLink,
    ClickCount,
    Delivery,
    DeliveryEngagement,
    OpenCount,
    SenderAddress,
    TrackingSettings,
)
from infolettre.campaigns.tests.counting import flush, redis_keys
from infolettre.campaigns.tracking import LINK_SALT, links_in, rewrite_links
from infolettre.campaigns.tracking_actions import do_set_tracking

HTML = (
    "<html><body><p>Bonjour {{ contact.name }}</p>"
    '<p><a href="https://example.org/a?x=1&amp;y=2">A</a> '
    "<a class='big' href='https://example.org/b'>B</a> "
    '<a href="mailto:info@example.org">Write</a> '
    '<a href="{{ unsubscribe_url }}">Leave</a> '
    '<a href="https://example.org/p/{{ contact.name }}">Yours</a></p>'
    '<!-- <a href="https://example.org/hidden">no</a> -->'
    "{{ footer }}</body></html>"
)
NOTICE = '<p style="margin:8px 0 0">'
BROWSER = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0 UNIQUEAGENT42"
ADDRESS = "203.0.113.77"


@pytest.fixture
def campaign(owner, settings, smtp_server):
    settings.CAMPAIGN_TRANSPORT_URL = smtp_server.url
    with tenant_scope(owner.tenant):
        news = do_create_list(owner.tenant, name="News")
        for n in range(3):
            contact = do_create_contact(owner.tenant, email=f"r{n}@example.com", name=f"Reader{n}")
            do_subscribe(contact, news, source="test")
        sender = SenderAddress.objects.create(
            tenant=owner.tenant, email="news@example.com", name="News", verified_at=timezone.now()
        )
        campaign = Campaign.objects.create(
            tenant=owner.tenant, name="Launch", subject="Hello", sender=sender, html=HTML
        )
        campaign.lists.add(news)
    return campaign


def launch(owner, campaign, capture):
    with tenant_scope(owner.tenant), capture(execute=True):
        do_launch_campaign(campaign)
    campaign.refresh_from_db()


def sent_html(smtp_server, recipient="r0@example.com"):
    for _from, rcpts, raw in smtp_server.messages:
        if recipient in rcpts:
            message = email.message_from_bytes(raw, policy=default_policy)
            return (
                message.get_body(("html",)).get_content(),
                message.get_body(("plain",)).get_content(),
            )
    raise AssertionError(recipient)


def path_of(url):
    return url.replace("http://127.0.0.1:8000", "")


def click_paths(html):
    return [path_of(u) for u in re.findall(r'href="(http://127\.0\.0\.1:8000/t/c/[^"]+)"', html)]


def pixel_path(html):
    return path_of(re.search(r'<img src="(http://127\.0\.0\.1:8000/t/o/[^"]+)"', html)[1])


def test_tracking_is_off_by_default_no_pixel_no_rewritten_link_no_notice(
    owner, campaign, smtp_server, django_capture_on_commit_callbacks
):
    """An organisation that never chose counts nothing: links as written, no image, no notice."""
    launch(owner, campaign, django_capture_on_commit_callbacks)
    html, text = sent_html(smtp_server)
    assert campaign.tracking == ""
    assert '<a href="https://example.org/a?x=1&amp;y=2">' in html
    assert "/t/c/" not in html and "/t/o/" not in html and "/t/c/" not in text
    assert NOTICE not in html
    assert CampaignLink.unscoped.count() == 0


def test_aggregate_counting_adds_a_pixel_rewrites_written_links_and_announces_it(
    owner, campaign, smtp_server, django_capture_on_commit_callbacks
):
    """Counting on: each written http(s) link leads through the redirect; mailto, the unsubscribe
    link, a link built per recipient and one in an HTML comment are left as they are."""
    do_set_tracking(owner, count_opens_and_clicks=True, per_recipient=False)
    launch(owner, campaign, django_capture_on_commit_callbacks)
    html, text = sent_html(smtp_server)
    assert campaign.tracking == "aggregate"
    links = dict(CampaignLink.unscoped.values_list("url", "pk"))
    assert set(links) == {"https://example.org/a?x=1&y=2", "https://example.org/b"}
    clicks = click_paths(html)
    assert len(clicks) == 2 and all("." not in p.split("/")[3] for p in clicks)
    assert "https://example.org/a" not in html.split("infolettre-footer")[0].replace(
        "https://example.org/p/Reader0", ""
    )
    assert 'href="mailto:info@example.org"' in html
    assert 'href="https://example.org/p/Reader0"' in html
    assert '<a href="https://example.org/hidden">' in html
    assert re.search(r'href="http://127\.0\.0\.1:8000/u/[^"]+">Leave', html)
    assert "/t/o/" in pixel_path(html) and pixel_path(html).endswith(".gif")
    assert "/t/c/" in text
    assert NOTICE in html
    other_html, _text = sent_html(smtp_server, "r1@example.com")
    assert click_paths(other_html) == clicks  # aggregate: the same links for everyone


def test_a_campaign_keeps_the_mode_it_was_launched_with(
    owner, campaign, smtp_server, django_capture_on_commit_callbacks
):
    """Turning counting off after the launch changes nothing for that campaign."""
    do_set_tracking(owner, count_opens_and_clicks=True, per_recipient=True)
    launch(owner, campaign, django_capture_on_commit_callbacks)
    do_set_tracking(owner, count_opens_and_clicks=False, per_recipient=False)
    campaign.refresh_from_db()
    assert campaign.tracking == "per_recipient"


def test_click_redirects_to_the_stored_address_and_counts_a_person(
    client, owner, campaign, smtp_server, django_capture_on_commit_callbacks, counting
):
    do_set_tracking(owner, count_opens_and_clicks=True, per_recipient=False)
    launch(owner, campaign, django_capture_on_commit_callbacks)
    html, _text = sent_html(smtp_server)
    response = client.get(click_paths(html)[0], HTTP_USER_AGENT=BROWSER)
    assert response.status_code == 302
    assert response["Location"] == "https://example.org/a?x=1&y=2"
    assert response["Referrer-Policy"] == "no-referrer"
    assert "no-store" in response["Cache-Control"]
    assert response.cookies == {}
    flush()
    link = CampaignLink.unscoped.get(url="https://example.org/a?x=1&y=2")
    assert list(ClickCount.unscoped.values_list("link_id", "people", "machines")) == [
        (link.pk, 1, 0)
    ]


def test_open_pixel_is_a_gif_and_counts_an_open(
    client, owner, campaign, smtp_server, django_capture_on_commit_callbacks, counting
):
    do_set_tracking(owner, count_opens_and_clicks=True, per_recipient=False)
    launch(owner, campaign, django_capture_on_commit_callbacks)
    html, _text = sent_html(smtp_server)
    for _ in range(2):
        response = client.get(pixel_path(html), HTTP_USER_AGENT=BROWSER)
    assert response.status_code == 200
    assert response["Content-Type"] == "image/gif"
    assert response.content.startswith(b"GIF89a")
    assert "no-store" in response["Cache-Control"]
    assert response["Referrer-Policy"] == "no-referrer"
    assert response.cookies == {}
    flush()
    assert list(OpenCount.unscoped.values_list("campaign_id", "people", "machines")) == [
        (campaign.pk, 2, 0)
    ]


def test_a_tampered_token_gets_400_no_redirect_and_no_count(
    client, owner, campaign, smtp_server, django_capture_on_commit_callbacks, counting
):
    do_set_tracking(owner, count_opens_and_clicks=True, per_recipient=False)
    launch(owner, campaign, django_capture_on_commit_callbacks)
    html, _text = sent_html(smtp_server)
    path = click_paths(html)[0]
    token = path.split("/")[3]
    link_id, signature = token.split(":")
    for bad in (
        f"{int(link_id) + 1}:{signature}",
        f"{link_id}:{signature[:-2]}xx",
        "https:evil.example",
        token + ".0123456789abcdef0123456789abcdef:forged",
    ):
        response = client.get(f"/t/c/{bad}/")
        assert response.status_code == 400, bad
        assert "Location" not in response
        assert response.cookies == {}
    assert client.get(pixel_path(html).replace(".gif", "x.gif")).status_code == 400
    flush()
    assert ClickCount.unscoped.count() == 0
    assert OpenCount.unscoped.count() == 0


def test_an_address_not_in_the_campaign_cannot_be_reached(
    client, owner, campaign, smtp_server, django_capture_on_commit_callbacks
):
    """Only stored links can be named; a signed id of no link, or a URL in the query, leads nowhere
    but to the stored address."""
    do_set_tracking(owner, count_opens_and_clicks=True, per_recipient=False)
    launch(owner, campaign, django_capture_on_commit_callbacks)
    html, _text = sent_html(smtp_server)
    missing = signing.Signer(salt=LINK_SALT).sign("999999")
    assert client.get(f"/t/c/{missing}/").status_code == 400
    unsigned_url = signing.Signer(salt="other").sign("evil.example")
    assert client.get(f"/t/c/{unsigned_url}/").status_code == 400
    response = client.get(click_paths(html)[1] + "?url=https://evil.example/")
    assert response["Location"] == "https://example.org/b"


def test_no_raw_ip_address_or_user_agent_is_stored(
    client, owner, campaign, smtp_server, django_capture_on_commit_callbacks, counting, settings
):
    """After opens and clicks in per-recipient mode, neither string is in any column of the
    tracking tables, the deliveries or the campaign, nor, on the way there, in Redis."""
    do_set_tracking(owner, count_opens_and_clicks=True, per_recipient=True)
    launch(owner, campaign, django_capture_on_commit_callbacks)
    Delivery.unscoped.update(sent_at=timezone.now() - timedelta(minutes=5))
    html, _text = sent_html(smtp_server)
    headers = {"HTTP_USER_AGENT": BROWSER, "REMOTE_ADDR": ADDRESS}
    assert client.get(pixel_path(html), **headers).status_code == 200
    assert client.get(click_paths(html)[0], **headers).status_code == 302
    held = str(redis_keys(settings.TRACKING_COUNTER_PREFIX)) if counting == "redis" else ""
    assert "UNIQUEAGENT42" not in held and "Firefox" not in held and "203.0.113" not in held
    flush()
    assert DeliveryEngagement.unscoped.count() == 1
    models = (
        TrackingSettings,
        CampaignLink,
        OpenCount,
        ClickCount,
        DeliveryEngagement,
        Delivery,
        Campaign,
    )
    truncated = ADDRESS.rsplit(".", 1)[0]
    with connection.cursor() as cursor:
        for model in models:
            cursor.execute(f"SELECT * FROM {model._meta.db_table}")  # noqa: S608
            for row in cursor.fetchall():
                for value in row:
                    text = str(value)
                    assert "UNIQUEAGENT42" not in text and "Firefox" not in text, model
                    assert ADDRESS not in text and truncated not in text, model


def test_a_scanner_or_a_head_request_counts_as_a_machine(
    client, owner, campaign, smtp_server, django_capture_on_commit_callbacks, counting
):
    do_set_tracking(owner, count_opens_and_clicks=True, per_recipient=False)
    launch(owner, campaign, django_capture_on_commit_callbacks)
    html, _text = sent_html(smtp_server)
    scanner = "Mozilla/5.0 (compatible; Barracuda Sentinel link protection)"
    assert client.get(click_paths(html)[0], HTTP_USER_AGENT=scanner).status_code == 302
    assert client.head(click_paths(html)[0], HTTP_USER_AGENT=BROWSER).status_code == 302
    assert client.get(pixel_path(html), HTTP_USER_AGENT="GoogleImageProxy").status_code == 200
    assert client.get(pixel_path(html), HTTP_USER_AGENT=BROWSER, REMOTE_ADDR="17.58.1.2")
    flush()
    assert list(ClickCount.unscoped.values_list("people", "machines")) == [(0, 2)]
    assert list(OpenCount.unscoped.values_list("people", "machines")) == [(0, 2)]


def test_aggregate_mode_links_no_delivery_to_any_hit(
    client, owner, campaign, smtp_server, django_capture_on_commit_callbacks, counting
):
    """Without the per-recipient switch, tokens name no message and no recipient is recorded."""
    do_set_tracking(owner, count_opens_and_clicks=True, per_recipient=False)
    launch(owner, campaign, django_capture_on_commit_callbacks)
    for recipient in ("r0@example.com", "r1@example.com"):
        html, _text = sent_html(smtp_server, recipient)
        for delivery in Delivery.unscoped.all():
            assert delivery.message_id.hex not in html.split("/u/")[0]
        client.get(pixel_path(html), HTTP_USER_AGENT=BROWSER)
        client.get(click_paths(html)[0], HTTP_USER_AGENT=BROWSER)
    flush()
    assert DeliveryEngagement.unscoped.count() == 0
    assert set(Contact.unscoped.values_list("engaged_at", flat=True)) == {None}
    assert list(OpenCount.unscoped.values_list("people", flat=True)) == [2]


def test_per_recipient_mode_records_first_open_and_click_once_and_the_engagement(
    client, owner, campaign, smtp_server, django_capture_on_commit_callbacks, counting
):
    do_set_tracking(owner, count_opens_and_clicks=True, per_recipient=True)
    launch(owner, campaign, django_capture_on_commit_callbacks)
    Delivery.unscoped.update(sent_at=timezone.now() - timedelta(minutes=5))
    html, text = sent_html(smtp_server)
    delivery = Delivery.unscoped.get(email="r0@example.com")
    assert click_paths(html)[0] in text  # the text alternative leads through the same link
    for _ in range(2):
        client.get(pixel_path(html), HTTP_USER_AGENT=BROWSER)
        client.get(click_paths(html)[1], HTTP_USER_AGENT=BROWSER)
    flush()
    engagement = DeliveryEngagement.unscoped.get()
    assert engagement.delivery_id == delivery.pk
    assert engagement.first_opened_at is not None and engagement.first_clicked_at is not None
    contact = Contact.unscoped.get(email="r0@example.com")
    assert contact.engaged_at >= engagement.first_clicked_at > engagement.first_opened_at
    assert list(OpenCount.unscoped.values_list("people", flat=True)) == [2]
    assert list(ClickCount.unscoped.values_list("people", flat=True)) == [2]
    other_html, _text = sent_html(smtp_server, "r1@example.com")
    assert click_paths(other_html) != click_paths(html)


def test_a_click_seconds_after_sending_is_a_scanner_in_per_recipient_mode(
    client, owner, campaign, smtp_server, django_capture_on_commit_callbacks, counting
):
    do_set_tracking(owner, count_opens_and_clicks=True, per_recipient=True)
    launch(owner, campaign, django_capture_on_commit_callbacks)
    html, _text = sent_html(smtp_server)
    assert client.get(click_paths(html)[0], HTTP_USER_AGENT=BROWSER).status_code == 302
    flush()
    assert list(ClickCount.unscoped.values_list("people", "machines")) == [(0, 1)]
    assert DeliveryEngagement.unscoped.count() == 0


def test_a_recipient_token_of_another_campaign_is_refused(
    client, owner, campaign, smtp_server, django_capture_on_commit_callbacks, counting
):
    """A link id joined to the message id of another campaign's delivery leads nowhere."""
    do_set_tracking(owner, count_opens_and_clicks=True, per_recipient=True)
    launch(owner, campaign, django_capture_on_commit_callbacks)
    html, _text = sent_html(smtp_server)
    link_part, _recipient = click_paths(html)[0].split("/")[3].split(".")
    with tenant_scope(owner.tenant):
        other = Campaign.objects.create(
            tenant=owner.tenant, name="Other", subject="S", sender=campaign.sender, html=HTML
        )
        foreign = Delivery.objects.create(
            tenant=owner.tenant, campaign=other, contact=None, email="x@example.com"
        )
    from infolettre.campaigns.tracking import recipient_part

    response = client.get(f"/t/c/{link_part}.{recipient_part(foreign)}/")
    assert response.status_code == 400
    flush()
    assert ClickCount.unscoped.count() == 0


def test_links_are_found_and_rewritten_once_in_the_source():
    """Only links written in full are rewritten; constructs elsewhere in the tag survive as they are."""
    source = (
        '<a href="https://a.example/x" class="{{ contact.name }}">x</a>'
        '{% if contact.name %}<a href="https://b.example/">b</a>{% endif %}'
        '<a href="https://c.example/{{ contact.email }}">c</a><a href="/relative">r</a>'
    )
    assert links_in(source) == ["https://a.example/x", "https://b.example/"]
    rewritten = rewrite_links(source, {"https://a.example/x": "T1", "https://b.example/": "T2"})
    assert rewritten == (
        '<a href="T1" class="{{ contact.name }}">x</a>'
        '{% if contact.name %}<a href="T2">b</a>{% endif %}'
        '<a href="https://c.example/{{ contact.email }}">c</a><a href="/relative">r</a>'
    )


def test_only_an_owner_changes_the_switches_on_the_page(client, owner, make_member):
    member = make_member(owner.tenant)
    client.force_login(member)
    page = client.get("/campagnes/suivi/")
    assert page.status_code == 200
    assert client.post("/campagnes/suivi/", {"count_opens_and_clicks": "on"}).status_code == 403
    assert TrackingSettings.unscoped.count() == 0
    client.force_login(owner)
    response = client.post(
        "/campagnes/suivi/", {"count_opens_and_clicks": "on", "per_recipient": "on"}
    )
    assert response.status_code == 302
    switches = TrackingSettings.unscoped.get(tenant=owner.tenant)
    assert (switches.count_opens_and_clicks, switches.per_recipient) == (True, True)
    refused = client.post("/campagnes/suivi/", {"per_recipient": "on"})
    assert refused.status_code == 400
    switches.refresh_from_db()
    assert (switches.count_opens_and_clicks, switches.per_recipient) == (True, True)


def test_switches_through_the_api(client, owner, make_member):
    auth = basic_auth(owner)
    assert client.get("/api/v1/tracking", **auth).json() == {
        "count_opens_and_clicks": False,
        "per_recipient": False,
    }
    response = client.put(
        "/api/v1/tracking",
        {"count_opens_and_clicks": True, "per_recipient": False},
        content_type="application/json",
        **auth,
    )
    assert response.status_code == 200
    assert response.json() == {"count_opens_and_clicks": True, "per_recipient": False}
    refused = client.put(
        "/api/v1/tracking",
        {"count_opens_and_clicks": False, "per_recipient": True},
        content_type="application/json",
        **auth,
    )
    assert refused.status_code == 422
    member = make_member(owner.tenant)
    forbidden = client.put(
        "/api/v1/tracking",
        {"count_opens_and_clicks": False},
        content_type="application/json",
        **basic_auth(member),
    )
    assert (forbidden.status_code, forbidden.json()["code"]) == (403, "owner_required")
    assert client.get("/api/v1/tracking", **auth).json() == {
        "count_opens_and_clicks": True,
        "per_recipient": False,
    }


def test_previews_and_test_sends_announce_the_current_mode_and_rewrite_nothing(owner):
    """A draft's preview tells what a launch now would count; its links stay as written."""
    from infolettre.campaigns.template_actions import preview_message

    _subject, before, _text = preview_message(HTML, "Hi", owner.tenant)
    do_set_tracking(owner, count_opens_and_clicks=True, per_recipient=False)
    _subject, after, _text = preview_message(HTML, "Hi", owner.tenant)
    assert NOTICE not in before
    assert NOTICE in after
    assert "/t/c/" not in after and "/t/o/" not in after
    assert CampaignLink.unscoped.count() == 0
