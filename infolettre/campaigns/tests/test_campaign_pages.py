"""The campaign pages: the list, a new draft, its page (edit, preview, send, schedule) and live counts."""

import email
import html
import re
from datetime import timedelta
from email.policy import default as default_policy

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone, translation

from infolettre.accounts.tenancy import tenant_scope
from infolettre.audience.models import Segment
from infolettre.campaigns.models import Campaign, CampaignStatus, Delivery, SenderAddress, Template
from infolettre.campaigns.tasks import launch_scheduled_campaign
from infolettre.campaigns.template_actions import default_template_html
from infolettre.campaigns.tests.test_campaign_api import ADDRESSES, HTML, make_audience, received

CAMPAIGNS = reverse("campaigns:campaigns")
CREATE = reverse("campaigns:campaign_create")


def detail(campaign_id):
    return reverse("campaigns:campaign_detail", args=[campaign_id])


def page_of(response):
    return html.unescape(response.content.decode())


def campaign_rows():
    return list(
        Campaign.unscoped.order_by("pk").values(
            "name", "subject", "sender_id", "reply_to", "status", "html", "segment_id"
        )
    )


@pytest.fixture
def signed_in(client, owner):
    """The owner's browser, in English: messages are worded when the POST is answered."""
    client.force_login(owner)
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


@pytest.fixture
def audience(owner):
    return make_audience(owner)


def make_draft(owner, news, sender, **fields):
    with tenant_scope(owner.tenant):
        campaign = Campaign.objects.create(
            tenant=owner.tenant,
            name=fields.pop("name", "March news"),
            subject=fields.pop("subject", "Hello {{ contact.name }}"),
            sender=sender,
            html=fields.pop("html", HTML),
            **fields,
        )
        if news is not None:
            campaign.lists.add(news)
    return campaign


def create_form(news, from_sender, **overrides):
    data = {
        "name": "March news",
        "subject": "Hello {{ contact.name }}",
        "sender": str(from_sender.pk),
        "reply_to": "",
        "lists": [str(news.pk)],
        "segment": "",
        "template": "",
    }
    data.update(overrides)
    return data


def test_campaign_pages_need_a_signed_in_client(client, owner, audience):
    news, sender = audience
    campaign = make_draft(owner, news, sender)
    for url in (CAMPAIGNS, CREATE, detail(campaign.pk), reverse("campaigns:senders")):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("accounts:login"))


def test_the_navigation_links_to_campaigns_templates_and_senders(signed_in):
    page = signed_in.get(CAMPAIGNS, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert f'<a href="{CAMPAIGNS}" aria-current="page">Campaigns</a>' in page
    assert f'<a href="{reverse("campaigns:templates")}">Templates</a>' in page
    assert f'<a href="{reverse("campaigns:senders")}">Senders</a>' in page


def test_the_campaigns_page_shows_each_campaign_with_its_status_and_counts(
    signed_in, owner, audience
):
    news, sender = audience
    campaign = make_draft(owner, news, sender, status=CampaignStatus.SENDING, recipient_count=3)
    with tenant_scope(owner.tenant):
        for n, status in enumerate(("sent", "sent", "bounced")):
            Delivery.objects.create(
                tenant=owner.tenant, campaign=campaign, email=f"x{n}@example.com", status=status
            )
    page = signed_in.get(CAMPAIGNS, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    row = re.search(rf'<tr id="campaign-{campaign.pk}">(.*?)</tr>', page, re.S).group(1)
    assert "Sending" in row
    assert [int(n) for n in re.findall(r"<td>(\d+)</td>", row)] == [3, 2, 1, 0]
    assert f'href="{CREATE}"' in page


def test_the_new_campaign_form_marks_which_senders_are_confirmed(signed_in, owner, audience):
    news, _sender = audience
    with tenant_scope(owner.tenant):
        SenderAddress.objects.create(tenant=owner.tenant, email="wait@example.com", name="Wait")
    page = page_of(signed_in.get(CREATE, HTTP_ACCEPT_LANGUAGE="en"))
    assert "News Desk <news@example.com> — confirmed" in page
    assert "Wait <wait@example.com> — not confirmed yet" in page
    assert f'name="lists" value="{news.pk}"' in page


def test_creating_a_campaign_from_a_template_makes_a_draft_and_opens_it(signed_in, owner, audience):
    news, sender = audience
    with tenant_scope(owner.tenant):
        template = Template.objects.create(tenant=owner.tenant, name="Monthly", html=HTML)
    response = signed_in.post(
        CREATE,
        create_form(news, sender, template=str(template.pk), reply_to="Reply@Example.com"),
    )
    campaign = Campaign.unscoped.get()
    assert (response.status_code, response["Location"]) == (302, detail(campaign.pk))
    assert campaign_rows() == [
        {
            "name": "March news",
            "subject": "Hello {{ contact.name }}",
            "sender_id": sender.pk,
            "reply_to": "reply@example.com",
            "status": "draft",
            "html": HTML,
            "segment_id": None,
        }
    ]
    with tenant_scope(owner.tenant):
        assert list(campaign.lists.values_list("pk", flat=True)) == [news.pk]


def test_a_campaign_without_a_template_starts_from_the_default_layout(signed_in, owner, audience):
    """Its sample words are in the language of the page that created it."""
    news, sender = audience
    signed_in.post(CREATE, create_form(news, sender))
    with translation.override("en"):
        assert Campaign.unscoped.get().html == default_template_html()


def test_a_new_campaign_without_name_subject_or_sender_is_refused(signed_in, owner, audience):
    news, sender = audience
    response = signed_in.post(
        CREATE,
        create_form(news, sender, name=" ", subject="", sender=""),
        HTTP_ACCEPT_LANGUAGE="en",
    )
    page = response.content.decode()
    assert response.status_code == 400
    for name in ("name", "subject", "sender"):
        block = page[page.index(f'id="field-{name}"') :]
        assert "This field is required." in block[: block.index("</div>")]
    assert campaign_rows() == []


def test_another_organisations_list_sender_segment_or_template_is_not_found(
    signed_in, owner, make_client_user
):
    """A form naming another organisation's objects is a 404, and creates nothing."""
    own_news, own_sender = make_audience(owner, size=0)
    stranger = make_client_user()
    news, sender = make_audience(stranger, size=0)
    with tenant_scope(stranger.tenant):
        segment = Segment.objects.create(tenant=stranger.tenant, name="S", definition={})
        template = Template.objects.create(tenant=stranger.tenant, name="T", html=HTML)
    for field, value in (
        ("lists", [str(news.pk)]),
        ("sender", str(sender.pk)),
        ("segment", str(segment.pk)),
        ("template", str(template.pk)),
    ):
        response = signed_in.post(CREATE, create_form(own_news, own_sender, **{field: value}))
        assert (field, response.status_code) == (field, 404)
    assert campaign_rows() == []


def test_a_draft_page_shows_what_stands_before_sending(signed_in, owner, audience):
    _news, sender = audience
    SenderAddress.unscoped.filter(pk=sender.pk).update(verified_at=None)
    campaign = make_draft(owner, None, sender)
    page = signed_in.get(detail(campaign.pk), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    blockers = re.search(r'<div class="banner banner-warning" id="blockers"(.*?)</div>', page, re.S)
    assert "The sender address news@example.com is not confirmed yet." in blockers.group(1)
    assert "Choose at least one list or a segment." in blockers.group(1)


def test_a_draft_page_previews_the_message_in_a_sandboxed_frame(signed_in, owner, audience):
    """The preview is drawn for a recipient, inside a sandboxed frame, with the footer."""
    news, sender = audience
    campaign = make_draft(owner, news, sender)
    page = signed_in.get(detail(campaign.pk), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    frame = re.search(r'<iframe sandbox="" srcdoc="([^"]*)"', page).group(1)
    assert "Bonjour Reader 00" in html.unescape(frame)
    assert owner.tenant.address in html.unescape(frame)
    assert "Hello Reader 00" in page
    assert "Today it would go to 20 people" in page


def test_the_preview_page_draws_the_message_for_a_chosen_contact(signed_in, owner, audience):
    news, sender = audience
    campaign = make_draft(owner, news, sender)
    with tenant_scope(owner.tenant):
        contact = news.subscriptions.get(contact__email="reader07@example.com").contact
    url = reverse("campaigns:campaign_preview", args=[campaign.pk])
    page = signed_in.get(f"{url}?contact={contact.pk}").content.decode()
    assert "Bonjour Reader 07" in html.unescape(re.search(r'srcdoc="([^"]*)"', page).group(1))


def test_the_preview_page_does_not_find_another_organisations_contact(
    signed_in, owner, audience, make_client_user
):
    news, sender = audience
    campaign = make_draft(owner, news, sender)
    stranger = make_client_user()
    make_audience(stranger, size=1)
    with tenant_scope(stranger.tenant):
        from infolettre.audience.models import Contact

        foreign = Contact.objects.get()
    url = reverse("campaigns:campaign_preview", args=[campaign.pk])
    assert signed_in.get(f"{url}?contact={foreign.pk}").status_code == 404


def test_editing_a_draft_saves_it_and_bad_html_is_refused_beside_the_field(
    signed_in, owner, audience
):
    news, sender = audience
    campaign = make_draft(owner, news, sender)
    form = create_form(news, sender, name="April news", html="<p>Hi {{ contact.name }}</p>")
    del form["template"]
    assert signed_in.post(detail(campaign.pk), form).status_code == 302
    assert campaign_rows()[0]["name"] == "April news"
    before = campaign_rows()
    form["html"] = "<p>{% for x in %}</p>"
    response = signed_in.post(detail(campaign.pk), form, HTTP_ACCEPT_LANGUAGE="en")
    page = response.content.decode()
    assert response.status_code == 400
    block = page[page.index('id="field-html"') :]
    assert "Line 1" in block[: block.index("</div>")]
    assert campaign_rows() == before


def test_a_test_message_goes_to_the_addresses_given_and_nothing_is_recorded(
    signed_in, owner, audience, smtp_server, settings
):
    """The test goes to each address typed, personalised as the chosen contact, subject marked."""
    settings.CAMPAIGN_TRANSPORT_URL = smtp_server.url
    news, sender = audience
    campaign = make_draft(owner, news, sender)
    with tenant_scope(owner.tenant):
        contact = news.subscriptions.get(contact__email="reader03@example.com").contact
    response = signed_in.post(
        reverse("campaigns:campaign_test_send", args=[campaign.pk]),
        {"addresses": "me@example.com, boss@example.com", "contact": str(contact.pk)},
    )
    assert response["Location"] == detail(campaign.pk) + "#test"
    assert received(smtp_server) == ["boss@example.com", "me@example.com"]
    subjects = {
        email.message_from_bytes(raw, policy=default_policy)["Subject"]
        for _, _, raw in smtp_server.messages
    }
    assert subjects == {"[Test] Hello Reader 03"}
    page = signed_in.get(response["Location"], HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "The test is sent to me@example.com, boss@example.com." in page
    assert (Campaign.unscoped.get().status, Delivery.unscoped.count()) == ("draft", 0)


def test_a_test_message_from_an_unconfirmed_sender_is_refused(
    signed_in, owner, audience, smtp_server, settings
):
    settings.CAMPAIGN_TRANSPORT_URL = smtp_server.url
    news, sender = audience
    SenderAddress.unscoped.filter(pk=sender.pk).update(verified_at=None)
    campaign = make_draft(owner, news, sender)
    response = signed_in.post(
        reverse("campaigns:campaign_test_send", args=[campaign.pk]), {"addresses": "me@example.com"}
    )
    page = signed_in.get(response["Location"], HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Confirm this sender address before sending from it." in page
    assert smtp_server.messages == []


def test_sending_from_the_page_reaches_every_address_once_and_shows_the_counts(
    signed_in, owner, audience, smtp_server, settings, django_capture_on_commit_callbacks
):
    settings.CAMPAIGN_TRANSPORT_URL = smtp_server.url
    news, sender = audience
    campaign = make_draft(owner, news, sender)
    with django_capture_on_commit_callbacks(execute=True):
        response = signed_in.post(reverse("campaigns:campaign_send", args=[campaign.pk]))
    assert (response.status_code, response["Location"]) == (302, detail(campaign.pk))
    assert received(smtp_server) == ADDRESSES
    page = signed_in.get(detail(campaign.pk), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "The campaign is being sent." in page
    assert '<h2 id="count-sent">20</h2>' in page and '<h2 id="count-queued">0</h2>' in page
    assert '<progress id="id_progress" max="100" value="100"' in page
    assert "hx-trigger" not in page
    assert Campaign.unscoped.get().status == CampaignStatus.SENT


def test_a_campaign_being_sent_refreshes_its_counts_and_offers_pause_and_cancel(
    signed_in, owner, audience
):
    news, sender = audience
    campaign = make_draft(owner, news, sender)
    signed_in.post(reverse("campaigns:campaign_send", args=[campaign.pk]))
    page = signed_in.get(detail(campaign.pk)).content.decode()
    assert f'hx-get="{detail(campaign.pk)}" hx-trigger="every 2s" hx-select="#live"' in page
    assert "audience/htmx.min.js" in page
    assert reverse("campaigns:campaign_pause", args=[campaign.pk]) in page
    assert reverse("campaigns:campaign_cancel", args=[campaign.pk]) in page
    assert reverse("campaigns:campaign_resume", args=[campaign.pk]) not in page
    assert '<h2 id="count-queued">20</h2>' in page


def test_pause_resume_and_cancel_buttons_change_the_state_and_refusals_are_told(
    signed_in, owner, audience
):
    news, sender = audience
    campaign = make_draft(owner, news, sender)
    signed_in.post(reverse("campaigns:campaign_send", args=[campaign.pk]))
    for action, state, told in (
        ("campaign_pause", "paused", "Sending is paused."),
        ("campaign_pause", "paused", "The campaign cannot do this in its present state."),
        ("campaign_resume", "sending", "Sending has resumed."),
        ("campaign_cancel", "cancelled", "The campaign is cancelled"),
        ("campaign_resume", "cancelled", "The campaign cannot do this in its present state."),
    ):
        response = signed_in.post(reverse(f"campaigns:{action}", args=[campaign.pk]))
        assert response["Location"] == detail(campaign.pk)
        page = signed_in.get(detail(campaign.pk), HTTP_ACCEPT_LANGUAGE="en").content.decode()
        assert (action, told in page) == (action, True)
        assert (action, Campaign.unscoped.get().status) == (action, state)


@pytest.mark.parametrize(
    ("setup", "told"),
    [
        ("unconfirmed sender", "Confirm this sender address before sending from it."),
        ("no list", "Choose at least one list or a segment."),
    ],
)
def test_a_refused_send_is_told_and_queues_nothing(signed_in, owner, audience, setup, told):
    news, sender = audience
    if setup == "unconfirmed sender":
        SenderAddress.unscoped.filter(pk=sender.pk).update(verified_at=None)
    campaign = make_draft(owner, None if setup == "no list" else news, sender)
    response = signed_in.post(
        reverse("campaigns:campaign_send", args=[campaign.pk]), HTTP_ACCEPT_LANGUAGE="en"
    )
    page = signed_in.get(response["Location"], HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert told in page
    assert (Campaign.unscoped.get().status, Delivery.unscoped.count()) == ("draft", 0)


def test_an_unconfirmed_account_is_told_to_confirm_before_sending(client, make_client_user):
    unconfirmed = make_client_user(confirmed=False)
    news, sender = make_audience(unconfirmed, size=2)
    campaign = make_draft(unconfirmed, news, sender)
    client.force_login(unconfirmed)
    response = client.post(
        reverse("campaigns:campaign_send", args=[campaign.pk]), HTTP_ACCEPT_LANGUAGE="en"
    )
    page = client.get(response["Location"], HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Confirm your address from the welcome message before sending anything." in page
    assert (Campaign.unscoped.get().status, Delivery.unscoped.count()) == ("draft", 0)


def test_scheduling_from_the_page_reads_the_time_in_the_site_zone_and_launches_then(
    signed_in, owner, audience, smtp_server, settings, django_capture_on_commit_callbacks
):
    """The datetime-local value is Toronto time; the launch task sends once that time has come."""
    settings.CAMPAIGN_TRANSPORT_URL = smtp_server.url
    news, sender = audience
    campaign = make_draft(owner, news, sender)
    year = timezone.now().year + 1
    response = signed_in.post(
        reverse("campaigns:campaign_send", args=[campaign.pk]), {"at": f"{year}-07-01T09:30"}
    )
    assert response.status_code == 302
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.SCHEDULED
    assert campaign.scheduled_at.isoformat() == f"{year}-07-01T13:30:00+00:00"
    page = signed_in.get(detail(campaign.pk), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "The campaign is scheduled for" in page
    assert reverse("campaigns:campaign_cancel", args=[campaign.pk]) in page
    with (
        time_machine.travel(campaign.scheduled_at + timedelta(seconds=30)),
        django_capture_on_commit_callbacks(execute=True),
    ):
        launch_scheduled_campaign.call(campaign.pk)
    assert received(smtp_server) == ADDRESSES


def test_a_schedule_in_the_past_or_unreadable_is_refused(signed_in, owner, audience):
    news, sender = audience
    campaign = make_draft(owner, news, sender)
    for value, told in (
        ("2001-01-01T10:00", "Choose a time in the future."),
        ("soon", "Enter a date and a time."),
    ):
        response = signed_in.post(
            reverse("campaigns:campaign_send", args=[campaign.pk]),
            {"at": value},
            HTTP_ACCEPT_LANGUAGE="en",
        )
        page = signed_in.get(response["Location"], HTTP_ACCEPT_LANGUAGE="en").content.decode()
        assert told in page
    assert Campaign.unscoped.get().status == "draft"


def test_a_campaign_under_way_cannot_be_edited_from_its_page(signed_in, owner, audience):
    news, sender = audience
    campaign = make_draft(owner, news, sender)
    signed_in.post(reverse("campaigns:campaign_send", args=[campaign.pk]))
    before = campaign_rows()
    form = create_form(news, sender, name="Changed", html=HTML)
    response = signed_in.post(detail(campaign.pk), form)
    assert response.status_code == 302
    assert campaign_rows() == before


def test_another_organisations_campaign_pages_are_not_found(signed_in, owner, make_client_user):
    stranger = make_client_user()
    news, sender = make_audience(stranger, size=1)
    campaign = make_draft(stranger, news, sender)
    before = campaign_rows()
    for name in (
        "campaign_detail",
        "campaign_send",
        "campaign_pause",
        "campaign_resume",
        "campaign_cancel",
        "campaign_preview",
        "campaign_test_send",
    ):
        url = reverse(f"campaigns:{name}", args=[campaign.pk])
        assert (name, signed_in.post(url).status_code) == (name, 404)
        assert signed_in.get(url).status_code in (404, 405)
    assert campaign_rows() == before
    assert Delivery.unscoped.count() == 0
